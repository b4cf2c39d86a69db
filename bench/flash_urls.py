"""kpay's URLs plus ``/bench/bare/``: the yardstick of bench/flash_sale.py, a bare Django
view that updates one row (of ``bench_bare_counter``, made by the bench) per request,
under the same gunicorn, settings and middleware as kpay."""

from django.db import connection
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from kpay.urls import urlpatterns as kpay_urlpatterns


@csrf_exempt
def bare(request):
    row = int(request.GET.get("row", "1"))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE bench_bare_counter SET hits = hits + 1, at = now() WHERE id = %s", [row])
    return HttpResponse(status=204)


urlpatterns = [path("bench/bare/", bare), *kpay_urlpatterns]
