"""The login lockout's authentication backend."""

from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check for every login that comes with a request: the site and
    admin login forms, the API token endpoint and the authenticator set-up page all pass
    theirs. ``authenticate()`` called without a request (code, management commands, the
    test client's ``login()``) is not a login door, so it is not counted, where axes alone
    would refuse it with an exception."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
