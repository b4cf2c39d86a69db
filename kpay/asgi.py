import os

from django.core.asgi import get_asgi_application

from kpay.startup import log_public_url

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kpay.settings")
application = get_asgi_application()
log_public_url()
