"""Roles and what each may do, declared once (docs/access.md).

A role is a Django group of the same name; `ensure_roles()` keeps the groups' permissions equal
to this table. Which *records* a user sees is decided by site membership (`cases.access`).
"""

from __future__ import annotations

NURSE = "nurse"
PHARMACIST = "pharmacist"
PHYSICIAN = "physician"
DATAMANAGER = "datamanager"
ADMIN = "admin"

ROLES = (NURSE, PHARMACIST, PHYSICIAN, DATAMANAGER, ADMIN)

# Clinical users see identifying data (name, record number) of their own sites' patients.
CLINICAL_ROLES = frozenset({NURSE, PHARMACIST, PHYSICIAN})
# Study data managers and admins see every site, pseudonymised (docs/access.md).
ALL_SITES_ROLES = frozenset({DATAMANAGER, ADMIN})

_CLINICAL_VIEW = [
    "cases.view_site",
    "cases.view_drug",
    "cases.view_patient",
    "cases.view_treatment",
    "cases.view_doseregimen",
    "cases.view_sample",
    "cases.view_adverseevent",
    "cases.view_extraduedate",
    "advice.view_advice",
    "notifications.view_reminder",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    NURSE: [
        *_CLINICAL_VIEW,
        "cases.add_patient",
        "cases.change_patient",
        "cases.add_treatment",
        "cases.change_treatment",
        "cases.add_doseregimen",
        "cases.add_sample",
        "cases.change_sample",
        "cases.add_adverseevent",
        "cases.change_adverseevent",
        "cases.correct_sample",
        "cases.add_extraduedate",
    ],
    PHARMACIST: [
        *_CLINICAL_VIEW,
        "cases.withdraw_doseregimen",
        "cases.correct_sample",
        "cases.add_extraduedate",
        "advice.release_advice",
        "advice.withdraw_advice",
    ],
    PHYSICIAN: [
        *_CLINICAL_VIEW,
        "cases.add_doseregimen",
        "cases.withdraw_doseregimen",
        "cases.mark_doseregimen_in_error",
        "cases.change_treatment",
        "cases.add_adverseevent",
        "cases.change_adverseevent",
        "cases.add_extraduedate",
        "advice.sign_advice",
    ],
    DATAMANAGER: [
        "cases.view_site",
        "cases.view_drug",
        "cases.view_patient",
        "cases.view_treatment",
        "cases.view_doseregimen",
        "cases.view_sample",
        "cases.view_adverseevent",
        "advice.view_advice",
        "cases.view_auditevent",
        "study.export_study",
    ],
    ADMIN: [
        "cases.view_site",
        "cases.add_site",
        "cases.change_site",
        "cases.view_drug",
        "cases.change_drug",
        "cases.view_drugversion",
        "cases.view_sitemembership",
        "cases.add_sitemembership",
        "cases.change_sitemembership",
        "cases.delete_sitemembership",
        "cases.view_auditevent",
        "study.export_study",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "advice.view_signinglock",
        "advice.change_signinglock",
    ],
}


def ensure_roles(**kwargs) -> None:
    """Make each role's group hold exactly the permissions of ROLE_PERMISSIONS (post_migrate).

    The roles name permissions of every app, and `post_migrate` reaches the apps one by one:
    every app's permissions are created first, so none is missing when the groups are set.
    """
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)

    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for code in codes:
            app_label, codename = code.split(".")
            wanted.extend(
                Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)
