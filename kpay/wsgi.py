import os

from django.core.wsgi import get_wsgi_application

from kpay.startup import log_public_url

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kpay.settings")
application = get_wsgi_application()
log_public_url()
