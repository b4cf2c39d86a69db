"""Reading facts about the client from a request."""

from orders.services import ClientInfo


def client_info(request) -> ClientInfo:
    """The client's IP (REMOTE_ADDR: set the proxy to pass the real one) and device id."""
    device_id = request.headers.get("X-Device-Id") or request.COOKIES.get("kpay_device") or None
    return ClientInfo(ip=request.META.get("REMOTE_ADDR") or None, device_id=device_id)
