"""Thin Celery tasks over the membership services; each is idempotent. Services enqueue
them by name and never import this module."""

import logging

from celery import shared_task

from payments.exceptions import PaymentError

from .services import agreement_end, agreement_end_unwanted, renewals_run


@shared_task(ignore_result=True)
def run_renewals() -> dict:
    """Periodic: plan due renewals, send notices, charge in the gateways' windows, retry
    failed charges on the dunning schedule, lapse what cannot be renewed."""
    return renewals_run()


@shared_task(ignore_result=True)
def end_agreement(agreement_id: int) -> None:
    """End at the gateway an agreement kpay asked to end (a lapse). If the gateway does
    not answer, the renewal task asks again."""
    try:
        agreement_end(agreement_id=agreement_id)
    except PaymentError as exc:
        logging.getLogger(__name__).info(
            "agreement %s: not ended at the gateway yet (%s)", agreement_id, exc.code
        )


@shared_task(ignore_result=True)
def end_unwanted_agreement(gateway_alias: str, agreement_no: str, gateway_agreement_id: str) -> None:
    agreement_end_unwanted(
        gateway_alias=gateway_alias, agreement_no=agreement_no, gateway_agreement_id=gateway_agreement_id
    )
