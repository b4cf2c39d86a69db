"""gunicorn settings for bench/fault.py (bind and workers come from its command line)."""

wsgi_app = "kpay.wsgi:application"
worker_class = "sync"
timeout = 30  # a worker stuck longer is killed and replaced by the master
graceful_timeout = 5
keepalive = 2
accesslog = None
errorlog = "-"
loglevel = "warning"
