"""`python manage.py seed_demo [--password P]`: demo sites, one user per role, a small cohort.

docs/configuration.md, "Demo data": sites DEMO and DEMO2; `nurse`, `pharmacist`, `physician`,
`datamanager` at DEMO and the same names with suffix `2` at DEMO2; a superuser `admin`. Running it
again changes nothing: existing users, sites and patients (by study number) are left exactly as they
are.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from cases import roles, services
from cases.models import DoseRegimen, Drug, Patient, Site, SiteMembership

DEFAULT_PASSWORD = "etdm-demo"  # noqa: S105 - documented (docs/configuration.md)

SITES = (("DEMO", "Demo University Hospital", ""), ("DEMO2", "Demo General Hospital", "2"))
STAFF_ROLES = (roles.NURSE, roles.PHARMACIST, roles.PHYSICIAN, roles.DATAMANAGER)
FULL_NAMES = {
    roles.NURSE: ("Noor", "Visser"),
    roles.PHARMACIST: ("Pieter", "de Vries"),
    roles.PHYSICIAN: ("Fleur", "Jansen"),
    roles.DATAMANAGER: ("Daan", "Bakker"),
}


@dataclass(frozen=True)
class DemoSample:
    days_after_start: int
    draw_time: str  # local HH:MM
    hours_since_dose: float
    concentration: str


@dataclass(frozen=True)
class DemoPatient:
    """A demo patient whose treatment started `started_days_ago` days before today."""

    study_number: str
    name: str
    record_number: str
    sex: str
    birth_year: int
    tumour: str
    drug: str
    indication: str
    started_days_ago: int
    dose_mg: str
    administrations: int
    dose_changes: tuple[tuple[int, str, str], ...] = ()  # (day, mg/day, reason)
    samples: tuple[DemoSample, ...] = ()
    adverse_events: tuple[tuple[str, int, int], ...] = field(default=())  # (term, grade, day)


COHORT = {
    "DEMO": (
        DemoPatient(
            "TDM-0001", "Jan de Boer", "MRN-100231", "M", 1952, "hepatocellular carcinoma",
            "sorafenib", "", 120, "400", 2,
            dose_changes=((35, "600", "tdm_advice"),),
            samples=(
                DemoSample(28, "09:10", 12.2, "2430"),
                DemoSample(63, "08:45", 11.5, "2870"),
            ),
            adverse_events=(("Palmar-plantar erythrodysesthesia syndrome", 1, 40),),
        ),
        DemoPatient(
            "TDM-0002", "Maria Smit", "MRN-100877", "F", 1961, "gastrointestinal stromal tumour",
            "imatinib", "gist", 60, "400", 1,
            samples=(DemoSample(28, "10:00", 24.5, "870"),),
        ),
        DemoPatient(
            "TDM-0003", "Kees Mulder", "MRN-101455", "M", 1958, "renal cell carcinoma",
            "pazopanib", "", 20, "800", 1,
            adverse_events=(("Diarrhea", 2, 12), ("Fatigue", 1, 15)),
        ),
    ),
    "DEMO2": (
        DemoPatient(
            "TDM-1001", "Eva Hendriks", "MRN-200318", "F", 1966, "renal cell carcinoma",
            "sunitinib", "continuous", 50, "37.5", 1,
            samples=(DemoSample(28, "09:30", 23.0, "41.2"),),
        ),
        DemoPatient(
            "TDM-1002", "Ahmed Yilmaz", "MRN-200944", "M", 1970, "non-small cell lung cancer",
            "erlotinib", "", 35, "150", 1,
            samples=(DemoSample(28, "11:15", 26.0, "612"),),
        ),
    ),
}  # fmt: skip


class Command(BaseCommand):
    help = "Create the demo sites, users (one per role and site, plus admin) and demo cohort."

    def add_arguments(self, parser):
        parser.add_argument("--password", default=DEFAULT_PASSWORD)

    @transaction.atomic
    def handle(self, *args, password: str, **options):
        roles.ensure_roles()
        today = timezone.localdate()
        created_users = []
        for code, site_name, suffix in SITES:
            site, _ = Site.objects.get_or_create(code=code, defaults={"name": site_name})
            staff = {}
            for role in STAFF_ROLES:
                user, created = self._user(f"{role}{suffix}", role, password)
                SiteMembership.objects.get_or_create(user=user, site=site)
                staff[role] = user
                if created:
                    created_users.append(user.username)
            for demo in COHORT[code]:
                if not Patient.objects.filter(study_number=demo.study_number).exists():
                    self._patient(demo, site, staff, today)
        admin, created = self._user("admin", roles.ADMIN, password, superuser=True)
        if created:
            created_users.append(admin.username)
        self.stdout.write(f"demo data ready; new users: {', '.join(created_users) or 'none'}")

    def _user(self, username: str, role: str, password: str, superuser: bool = False):
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is not None:
            return user, False
        first, last = FULL_NAMES.get(role, ("Site", "Administrator"))
        user = user_model(
            username=username,
            first_name=first,
            last_name=last,
            email=f"{username}@demo.invalid",
            is_staff=superuser or role == roles.ADMIN,
            is_superuser=superuser,
        )
        user.set_password(password)
        user.save()
        user.groups.add(Group.objects.get(name=role))
        return user, True

    def _patient(self, demo: DemoPatient, site: Site, staff: dict, today: datetime.date) -> None:
        nurse = staff[roles.NURSE]
        patient = services.patient_create(
            actor=nurse,
            site=site,
            study_number=demo.study_number,
            sex=demo.sex,
            birth_year=demo.birth_year,
            tumour=demo.tumour,
            name=demo.name,
            record_number=demo.record_number,
            treating_physician=staff[roles.PHYSICIAN],
            responsible_nurse=nurse,
        )
        start = today - datetime.timedelta(days=demo.started_days_ago)
        treatment = services.treatment_create(
            actor=nurse,
            patient=patient,
            drug=Drug.objects.get(name=demo.drug, indication=demo.indication),
            start_date=start,
            daily_dose_mg=Decimal(demo.dose_mg),
            administrations_per_day=demo.administrations,
        )
        for day, dose, reason in demo.dose_changes:
            services.dose_regimen_create(
                actor=staff[roles.PHYSICIAN],
                treatment=treatment,
                effective_from=start + datetime.timedelta(days=day),
                daily_dose_mg=Decimal(dose),
                administrations_per_day=demo.administrations,
                reason=DoseRegimen.Reason(reason),
            )
        zone = timezone.get_current_timezone()
        for sample in demo.samples:
            day = start + datetime.timedelta(days=sample.days_after_start)
            drawn_at = datetime.datetime.combine(
                day, datetime.time.fromisoformat(sample.draw_time), tzinfo=zone
            )
            services.sample_record(
                actor=nurse,
                treatment=treatment,
                drawn_at=drawn_at,
                last_dose_at=drawn_at - datetime.timedelta(hours=sample.hours_since_dose),
                concentration=Decimal(sample.concentration),
            )
        for term, grade, day in demo.adverse_events:
            services.adverse_event_record(
                actor=nurse,
                treatment=treatment,
                term=term,
                grade=grade,
                onset=start + datetime.timedelta(days=day),
            )
