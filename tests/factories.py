"""Test records made the way the clinic makes them: through `cases.services`.

Every clinical factory's `_create` calls the service, so a test record gets its audit event, a
treatment its start regimen, a resulted sample its computed Ctrough and queued advice, and any
value the service would refuse fails the test as it would fail in production. No factory
writes a clinical row with `Model.objects.create`.

`actor` is the user who writes; the default `None` is the system itself (an import, a task).
A parent made on the way (a treatment's patient, a sample's treatment) is written by the same
actor, and a patient is registered at the actor's site when the actor works at exactly one.

The defaults are the standard case of the test suite — the `case_at` fixture of
`tests/conftest.py`:

- a patient, F, born 1960, hepatocellular carcinoma;
- sorafenib 600 mg/day in 2 administrations from 2024-01-08;
- a trough sample drawn 2024-02-05 09:00 local time, the last dose 12 h before
  (2024-02-04 21:00), 2870 ng/mL;
- an adverse event Fatigue grade 2 from 2024-01-20;
- a dose change (step-up to 800 mg/day) five weeks after the start, 2024-02-12.

    nurse = staff["nurse_a"]
    patient = PatientFactory(actor=nurse, study_number="TDM-0042", name="Jan de Boer")
    treatment = TreatmentFactory(actor=nurse, patient=patient)
    sample = SampleFactory(actor=nurse, treatment=treatment, concentration=Decimal(3950))
    AdverseEventFactory(actor=nurse, treatment=treatment, term="Diarrhea", grade=1)

Any other argument of the service passes straight through (`SampleFactory(lab_accession=…)`,
`PatientFactory(tumour_code="C22.0")`). A test that relies on a value says it, even when it is
the default. Sites, users and their memberships have no service (the admin edits them): their
factories use the ORM.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
import factory.django
from django.conf import settings
from django.contrib.auth.models import Group
from django.utils import timezone

from cases import roles, services
from cases.models import (
    AdverseEvent,
    DoseRegimen,
    Drug,
    Patient,
    Sample,
    Site,
    SiteMembership,
    Treatment,
)

DEMO_PASSWORD = "correct horse battery"


def local_datetime(text: str) -> datetime.datetime:
    """An aware datetime in the installation's time zone from 'YYYY-MM-DD HH:MM'."""
    naive = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M")  # noqa: DTZ007 - made aware below
    return timezone.make_aware(naive)


def hours_before(moment: datetime.datetime, hours: float) -> datetime.datetime:
    """`hours` of real time before `moment` (across a daylight-saving change too), local time."""
    utc = moment.astimezone(datetime.UTC) - datetime.timedelta(hours=hours)
    return timezone.localtime(utc)


def sorafenib() -> Drug:
    """The catalogue's sorafenib (loaded by a data migration)."""
    return Drug.objects.get(name="sorafenib", indication="")


def only_site(user) -> Site | None:
    """The site the user works at, or None for the system and for a user of no or several
    sites (give those the site)."""
    if user is None:
        return None
    sites = [membership.site for membership in user.site_memberships.select_related("site")]
    return sites[0] if len(sites) == 1 else None


# Sites and users: plain ORM ----------------------------------------------------------------------


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    code = factory.Sequence(lambda n: f"SITE-{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Hospital {o.code}")


class UserFactory(factory.django.DjangoModelFactory):
    """A user with a role of `cases.roles` (the group of that name, made by post_migrate) who
    works at `sites`: `UserFactory(username="nurse_a", role=roles.NURSE, sites=[site_a])`.
    `superuser=True` makes a superuser with admin access. The password is DEMO_PASSWORD."""

    class Meta:
        model = settings.AUTH_USER_MODEL

    class Params:
        superuser = factory.Trait(is_superuser=True, is_staff=True)

    username = factory.Sequence(lambda n: f"user{n}")
    password = DEMO_PASSWORD
    email = factory.LazyAttribute(lambda o: f"{o.username}@hospital.test")
    first_name = factory.LazyAttribute(lambda o: o.username.title())
    last_name = "Tester"
    is_superuser = False
    is_staff = False
    role = roles.NURSE
    sites = ()

    @classmethod
    def _create(cls, model_class, *args, role, sites, **kwargs):
        user = model_class._default_manager.create_user(*args, **kwargs)  # hashes the password
        if role:
            user.groups.add(Group.objects.get(name=role))
        for site in sites:
            SiteMembership.objects.create(user=user, site=site)
        return user


# Clinical records: through the services ----------------------------------------------------------


class ServiceFactory(factory.Factory):
    """A factory whose records only a service writes: `create` (the default) calls it; there
    is no unsaved `build`."""

    class Meta:
        abstract = True

    actor = None

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        raise TypeError(f"{cls.__name__} writes through the services: create the record instead")


class PatientFactory(ServiceFactory):
    """`services.patient_create`. The treating physician and responsible nurse are nobody
    unless given."""

    class Meta:
        model = Patient

    class Params:
        actor_site = factory.LazyAttribute(lambda o: only_site(o.actor))

    site = factory.Maybe(
        "actor_site",
        yes_declaration=factory.SelfAttribute("actor_site"),
        no_declaration=factory.SubFactory(SiteFactory),
    )
    study_number = factory.Sequence(lambda n: f"TDM-SEQ{n:04d}")
    sex = "F"
    birth_year = 1960
    tumour = "hepatocellular carcinoma"
    name = factory.LazyAttribute(lambda o: f"Patient {o.study_number}")
    record_number = factory.LazyAttribute(lambda o: f"MRN-{o.study_number}")
    treating_physician = None
    responsible_nurse = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.patient_create(**kwargs)


class TreatmentFactory(ServiceFactory):
    """`services.treatment_create`: the treatment with its start regimen."""

    class Meta:
        model = Treatment

    patient = factory.SubFactory(PatientFactory, actor=factory.SelfAttribute("..actor"))
    drug = factory.LazyFunction(sorafenib)
    start_date = datetime.date(2024, 1, 8)
    daily_dose_mg = Decimal(600)
    administrations_per_day = 2

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.treatment_create(**kwargs)


class DoseRegimenFactory(ServiceFactory):
    """`services.dose_regimen_create`: a dose change of the treatment."""

    class Meta:
        model = DoseRegimen

    treatment = factory.SubFactory(TreatmentFactory, actor=factory.SelfAttribute("..actor"))
    effective_from = factory.LazyAttribute(
        lambda o: o.treatment.start_date + datetime.timedelta(weeks=5)
    )
    daily_dose_mg = Decimal(800)
    administrations_per_day = 2
    reason = DoseRegimen.Reason.STEP_UP

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.dose_regimen_create(**kwargs)


class SampleFactory(ServiceFactory):
    """`services.sample_record`: `concentration=None` is a sample drawn and waiting for its
    result; the last dose is 12 h before the draw unless given (`None`: not known)."""

    class Meta:
        model = Sample

    treatment = factory.SubFactory(TreatmentFactory, actor=factory.SelfAttribute("..actor"))
    # Lazy: the installation's time zone is read when the sample is made (tests change it).
    drawn_at = factory.LazyFunction(lambda: local_datetime("2024-02-05 09:00"))
    last_dose_at = factory.LazyAttribute(lambda o: hours_before(o.drawn_at, 12))
    concentration = Decimal(2870)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.sample_record(**kwargs)


class AdverseEventFactory(ServiceFactory):
    """`services.adverse_event_record`: a CTCAE v5.0 event, related to the treatment."""

    class Meta:
        model = AdverseEvent

    treatment = factory.SubFactory(TreatmentFactory, actor=factory.SelfAttribute("..actor"))
    term = "Fatigue"
    grade = 2
    onset = datetime.date(2024, 1, 20)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.adverse_event_record(**kwargs)
