"""Signing locks in the admin: an administrator unlocks a user's signing (advice.signing)."""

from django.contrib import admin, messages

from advice import signing
from advice.models import SigningLock


@admin.register(SigningLock)
class SigningLockAdmin(admin.ModelAdmin):
    list_display = ["user", "locked_at", "unlocked_at", "unlocked_by"]
    list_filter = [("unlocked_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username"]
    readonly_fields = ["user", "locked_at", "unlocked_at", "unlocked_by"]
    actions = ["unlock"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Unlock signing", permissions=["change"])
    def unlock(self, request, queryset) -> None:
        unlocked = signing.unlock(actor=request.user, locks=queryset)
        messages.success(request, f"Signing unlocked for {unlocked} user(s).")
