"""Per-merchant isolation in the admin: the one place it is decided.

Every kpay model admin that shows merchant data mixes in :class:`MerchantScopedAdminMixin`:
querysets, object permissions, foreign-key choices and the merchant written on save (see
``courses.roles`` for who is who). Another merchant's object, asked for by its address, is
"not found" (404), as a deleted one: the page says nothing of whether it exists.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from .models import Merchant
from .roles import is_platform_staff, user_merchant


class MerchantScopedAdminMixin:
    """Limits an admin to the rows of the staff user's merchant.

    ``merchant_field`` is the lookup path from the model to its merchant:
    ``"merchant"``, ``"course__merchant"``, ``"order__merchant"``, or ``"pk"`` for
    :class:`Merchant` itself; ``None`` makes the admin platform-staff only. Platform
    staff (``courses.roles.is_platform_staff``) see every merchant; merchant staff see
    their own; every other user sees nothing, whatever their permissions.
    """

    merchant_field: str | None = "merchant"

    # -- who sees what --------------------------------------------------------
    def scope_queryset(self, request, queryset):
        if is_platform_staff(request.user):
            return queryset
        merchant = user_merchant(request.user)
        if merchant is None or self.merchant_field is None:
            return queryset.none()
        return queryset.filter(**{self.merchant_field: merchant.pk})

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    def merchant_id_of(self, obj) -> int | None:
        """The id of ``obj``'s merchant, following ``merchant_field``."""
        *path, last = self.merchant_field.split("__")
        for name in path:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        if last == "pk":
            return obj.pk
        return getattr(obj, obj._meta.get_field(last).attname)

    def in_scope(self, request, obj=None) -> bool:
        """Whether the user may touch ``obj`` (or, without one, this admin at all)."""
        if is_platform_staff(request.user):
            return True
        merchant = user_merchant(request.user)
        if merchant is None or self.merchant_field is None:
            return False
        return obj is None or self.merchant_id_of(obj) == merchant.pk

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self.in_scope(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.in_scope(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self.in_scope(request, obj)

    def has_add_permission(self, request, *args):
        return super().has_add_permission(request, *args) and self.in_scope(request)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        """Django's change, delete and history pages send a missing object (another
        merchant's is missing from the scoped queryset) to the admin home with a warning;
        here it is a "not found" page (404) in the admin instead (Django's hook for it, kept
        by a test: ``tests/admin/test_merchant_isolation.py``)."""
        context = {**self.admin_site.each_context(request), "opts": opts, "title": opts.verbose_name}
        return TemplateResponse(request, "admin/kpay/not_found.html", context, status=404)

    # -- forms ------------------------------------------------------------------
    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """A foreign key to a merchant-scoped model offers only the user's own rows."""
        related = db_field.remote_field.model
        if "queryset" not in kwargs and self.admin_site.is_registered(related):
            related_admin = self.admin_site.get_model_admin(related)
            if isinstance(related_admin, MerchantScopedAdminMixin):
                kwargs["queryset"] = related_admin.get_queryset(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_exclude(self, request, obj=None):
        """Merchant staff never choose the merchant: ``save_model`` sets their own."""
        exclude = list(super().get_exclude(request, obj) or ())
        if self.merchant_field == "merchant" and not is_platform_staff(request.user):
            exclude.append("merchant")
        return exclude

    def save_model(self, request, obj, form, change):
        if not is_platform_staff(request.user):
            merchant = user_merchant(request.user)
            if merchant is None or self.merchant_field is None:
                raise PermissionDenied
            if self.merchant_field == "merchant":
                obj.merchant = merchant
            if self.merchant_id_of(obj) != merchant.pk:
                raise PermissionDenied
        super().save_model(request, obj, form, change)


def merchant_list_filter(field: str = "merchant") -> type[admin.SimpleListFilter]:
    """A list filter by merchant (``field`` is the lookup path to it) whose choices are the
    merchants themselves, a small table, where ``RelatedOnlyFieldListFilter`` would run a
    ``DISTINCT`` over the list's millions of rows on every page. Platform staff choose
    among all merchants; merchant staff, who see one, get no filter. The parameter is the
    one Django's related filters use (``merchant__id__exact``), so links keep working."""

    class MerchantListFilter(admin.SimpleListFilter):
        title = _("merchant")
        parameter_name = f"{field}__id__exact"

        def lookups(self, request, model_admin):
            if not is_platform_staff(request.user):
                return []
            return [
                (str(pk), name) for pk, name in Merchant.objects.order_by("name").values_list("pk", "name")
            ]

        def queryset(self, request, queryset):
            if not self.value():
                return queryset
            return queryset.filter(**{self.parameter_name: self.value()})

        def choices(self, changelist):
            """Django's choices, with the list's query string built once and each
            merchant's id put in (Django encodes every parameter again per merchant)."""
            if changelist.add_facets:  # counts per merchant: Django's own way
                yield from super().choices(changelist)
                return
            value = self.value()
            yield {
                "selected": value is None,
                "query_string": changelist.get_query_string(remove=[self.parameter_name]),
                "display": _("All"),
            }
            template = changelist.get_query_string({self.parameter_name: _MERCHANT_PLACEHOLDER})
            for lookup, title in self.lookup_choices:
                yield {
                    "selected": value == str(lookup),
                    "query_string": template.replace(_MERCHANT_PLACEHOLDER, str(lookup)),
                    "display": title,
                }

    return MerchantListFilter


_MERCHANT_PLACEHOLDER = "kpaymerchantid"  # letters: left as they are by the query's encoding
