"""Admin pages that show and never write: writes go through services (or never happen)."""

from django.contrib import admin


class ReadOnlyAdminMixin:
    """Shown, never written here: writes go through services (or never happen)."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    """History rows and the like under their parent object: all fields read-only."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def get_fields(self, request, obj=None):
        return self.fields
