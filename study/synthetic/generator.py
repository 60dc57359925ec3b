"""The whole cohort: sites and their staff, then the patients in chunks, each chunk written
table by table (docs/synthetic-cohort.md)."""

from __future__ import annotations

import datetime
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from advice.models import Advice
from cases import roles, services
from cases.models import (
    AdverseEvent,
    AuditEvent,
    DoseRegimen,
    Patient,
    Sample,
    Site,
    SiteMembership,
    Treatment,
)

from . import distributions as dist
from .catalogue import Clock, DrugPlan, People, drug_plans
from .course import DAY, MINUTE, Course
from .writer import Ids, Row, Writer

SITE_CODE_PREFIX = "SYN"
STUDY_NUMBER_PREFIX = "SYN-"
STUDY_NUMBER_DIGITS = 7
PATIENTS_PER_CHUNK = 1000
# A first treatment and, after some stops, a second line.
MOST_TREATMENTS = 2
STAFF_ROLES = (roles.NURSE, roles.PHYSICIAN, roles.PHARMACIST)


class CohortRefused(Exception):
    """The database cannot take the cohort as asked; `option` names the option that would
    change that, if one would."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


@dataclass
class SiteStaff:
    """A site (its id) and the ids of its staff per role, in username order."""

    site_id: int
    staff: dict[str, list[int]] = field(default_factory=dict)

    def people(self, rng: random.Random) -> People:
        return People(
            nurse=rng.choice(self.staff[roles.NURSE]),
            physician=rng.choice(self.staff[roles.PHYSICIAN]),
            pharmacist=rng.choice(self.staff[roles.PHARMACIST]),
        )


@dataclass
class _Chunk:
    """The rows of a run of patients, written together, parents first."""

    patients: list[Row] = field(default_factory=list)
    treatments: list[Row] = field(default_factory=list)
    regimens: list[Row] = field(default_factory=list)
    samples: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)
    advice: list[Row] = field(default_factory=list)

    def add(self, course: Course) -> None:
        self.treatments.append(course.treatment)
        self.regimens += course.regimens
        self.samples += course.samples
        self.events += [event.row for event in course.events]
        self.advice += [pending.row for pending in course.advice]

    def write(self, writer: Writer) -> None:
        writer.insert(Patient, self.patients)
        writer.insert(Treatment, self.treatments)
        writer.insert(DoseRegimen, self.regimens)
        writer.insert(Sample, self.samples)
        writer.insert(AdverseEvent, self.events)
        writer.insert(Advice, self.advice)


def generate_cohort(
    *,
    patients: int,
    seed: int,
    sites: int = 3,
    append: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, object]:
    """Write a synthetic cohort of `patients` patients at `sites` sites, the same for the same
    seed (and day); all or nothing. Returns the summary: rows written per table, seconds."""
    started = time.perf_counter()
    clock = Clock.now()
    with transaction.atomic():
        existing = Patient.objects.count()
        if existing and not append:
            raise CohortRefused(
                f"the database already holds {existing} patients: use --append to add the "
                "synthetic cohort to them",
                option="--append",
            )
        catalogue = drug_plans()
        if not catalogue:
            raise CohortRefused("the drug catalogue is empty: run `manage.py migrate` first")
        plans = dist.Weights((plan, plan.weight) for plan in catalogue)
        roles.ensure_roles()
        connection = connections[DEFAULT_DB_ALIAS]
        ids, writer = Ids(connection), Writer(connection)
        staffed = _sites_and_staff(sites, patients, seed, clock, ids, writer)
        first = _next_serial()
        last = first + patients - 1
        for begin in range(first, last + 1, PATIENTS_PER_CHUNK):
            chunk = _Chunk()
            for serial in range(begin, min(begin + PATIENTS_PER_CHUNK, last + 1)):
                _patient(serial, seed, clock, plans, staffed, ids, chunk)
            chunk.write(writer)
            done = min(begin + PATIENTS_PER_CHUNK, last + 1) - first
            progress(f"{done}/{patients} patients, {time.perf_counter() - started:.0f} s")
        detail = (
            f"synthetic cohort: {patients} patients {study_number(first)} to "
            f"{study_number(last)}, seed {seed}, {sites} sites"
        )
        AuditEvent.objects.create(
            actor_username="system", action=AuditEvent.Action.CREATE, detail=detail
        )
        writer.written[AuditEvent._meta.label] += 1
    # The rows were written past the services, so the stored due dates are derived from them
    # now (docs/sampling-schedule.md §13), and the planner is told the tables' new sizes.
    progress("storing the due dates")
    stored = services.due_dates_rebuild(today=clock.today)
    writer.written["cases.DueDate"] += stored["rows_written"]
    if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("ANALYZE")
    return {
        "seed": seed,
        "study_numbers": [study_number(first), study_number(last)],
        "rows": dict(sorted(writer.written.items())),
        "seconds": round(time.perf_counter() - started, 1),
    }


def study_number(serial: int) -> str:
    return f"{STUDY_NUMBER_PREFIX}{serial:0{STUDY_NUMBER_DIGITS}d}"


def _next_serial() -> int:
    """After the highest synthetic study number already there (`--append`), else 1."""
    highest = (
        Patient.objects.filter(
            study_number__regex=rf"^{STUDY_NUMBER_PREFIX}[0-9]{{{STUDY_NUMBER_DIGITS}}}$"
        )
        .order_by("-study_number")
        .values_list("study_number", flat=True)
        .first()
    )
    return int(highest.removeprefix(STUDY_NUMBER_PREFIX)) + 1 if highest else 1


def _sites_and_staff(
    count: int, patients: int, seed: int, clock: Clock, ids: Ids, writer: Writer
) -> list[SiteStaff]:
    """Sites SYN01… with their nurses, physicians and pharmacists (as many as the site's share
    of the patients needs); those already there are used as they are."""
    user_model = get_user_model()
    founded = clock.at(clock.today - (dist.HISTORY_DAYS + 60) * DAY, 9)
    needed = dist.staff_needed(math.ceil(patients / count))
    codes = [f"{SITE_CODE_PREFIX}{index:02d}" for index in range(1, count + 1)]
    site_ids = dict(Site.objects.filter(code__in=codes).values_list("code", "pk"))
    new_sites = [
        Row(
            id=ids.next(Site),
            code=code,
            name=f"Synthetic hospital {index}",
            created_at=founded,
            updated_at=founded,
        )
        for index, code in enumerate(codes, start=1)
        if code not in site_ids
    ]
    writer.insert(Site, new_sites)
    site_ids |= {site.code: site.id for site in new_sites}
    usernames = {
        (code, role): [f"{code.lower()}-{role}-{n:03d}" for n in range(1, needed[role] + 1)]
        for code in codes
        for role in STAFF_ROLES
    }
    user_ids = dict(
        user_model.objects.filter(
            username__in=[name for names in usernames.values() for name in names]
        ).values_list("username", "pk")
    )
    groups = dict(Group.objects.filter(name__in=STAFF_ROLES).values_list("name", "pk"))
    users, group_rows, memberships = [], [], []
    group_model = user_model.groups.through
    staffed = []
    for code in codes:
        entry = SiteStaff(site_ids[code])
        for role in STAFF_ROLES:
            entry.staff[role] = []
            for username in usernames[code, role]:
                if username not in user_ids:
                    user = _staff_member(user_model, username, seed, founded, ids)
                    users.append(user)
                    user_ids[username] = user.id
                    group_rows.append(
                        Row(id=ids.next(group_model), user_id=user.id, group_id=groups[role])
                    )
                    memberships.append(
                        Row(id=ids.next(SiteMembership), user_id=user.id, site_id=entry.site_id)
                    )
                entry.staff[role].append(user_ids[username])
        staffed.append(entry)
    writer.insert(user_model, users)
    writer.insert(group_model, group_rows)
    writer.insert(SiteMembership, memberships)
    return staffed


def _staff_member(
    user_model, username: str, seed: int, founded: datetime.datetime, ids: Ids
) -> Row:
    rng = random.Random(f"{seed}:{username}")  # noqa: S311 - synthetic data, not a secret
    female = rng.random() < 0.5
    return Row(
        id=ids.next(user_model),
        username=username,
        # No one can log in until an admin sets a password (`manage.py changepassword`).
        password=make_password(None),
        first_name=rng.choice(dist.FIRST_NAMES_F if female else dist.FIRST_NAMES_M),
        last_name=rng.choice(dist.SURNAMES),
        email=f"{username}@synthetic.invalid",
        is_active=True,
        date_joined=founded,
    )


def _patient(
    serial: int,
    seed: int,
    clock: Clock,
    plans: dist.Weights[DrugPlan],
    staffed: list[SiteStaff],
    ids: Ids,
    chunk: _Chunk,
) -> None:
    """One patient and their treatments, from a random stream of their own."""
    rng = random.Random(f"{seed}:{serial}")  # noqa: S311 - synthetic data, not a secret
    site = rng.choice(staffed)
    people = site.people(rng)
    plan = plans.draw(rng)
    tumour = plan.tumours.draw(rng)
    sex = _sex(rng, tumour)
    start = clock.today - rng.randint(1, dist.HISTORY_DAYS) * DAY
    youngest, oldest = dist.AGE_RANGE
    age = min(max(round(rng.gauss(dist.AGE_MEAN, dist.AGE_SD)), youngest), oldest)
    first_names = {
        Patient.Sex.FEMALE: dist.FIRST_NAMES_F,
        Patient.Sex.MALE: dist.FIRST_NAMES_M,
    }.get(sex, dist.FIRST_NAMES_F + dist.FIRST_NAMES_M)
    registered = _registration(rng, clock, start)
    number = study_number(serial)
    created_at = registered - rng.randint(1, 60) * MINUTE
    patient = Row(
        id=ids.next(Patient),
        site_id=site.site_id,
        study_number=number,
        name=f"{rng.choice(first_names)} {rng.choice(dist.SURNAMES)}",
        record_number=f"MRN{serial:0{STUDY_NUMBER_DIGITS}d}",
        sex=sex,
        birth_year=start.year - age,
        tumour=tumour.name,
        tumour_code=tumour.icd10,
        treating_physician_id=people.physician,
        responsible_nurse_id=people.nurse,
        created_at=created_at,
        updated_at=created_at,
    )
    chunk.patients.append(patient)
    used = set()
    for line in range(1, MOST_TREATMENTS + 1):
        used.add(plan.drug.name)
        treatment = Row(
            id=ids.next(Treatment),
            patient_id=patient.id,
            drug_id=plan.drug.pk,
            start_date=start,
            stop_date=None,
            stop_reason="",
            created_by_id=people.nurse,
            created_at=registered,
            updated_at=registered,
        )
        course = Course(rng, ids, clock, plan, treatment, people, f"{number}-{line}")
        course.run()
        chunk.add(course)
        if line == MOST_TREATMENTS or treatment.stop_reason not in dist.SECOND_LINE_AFTER:
            return
        options = [
            (other, other.weight)
            for other in plans.options
            if other.drug.name not in used and tumour in other.tumours.options
        ]
        start = treatment.stop_date + rng.randint(*dist.SECOND_LINE_GAP_DAYS) * DAY
        if not options or start >= clock.today or rng.random() >= dist.SECOND_LINE_SHARE:
            return
        plan = dist.Weights(options).draw(rng)
        registered = max(_registration(rng, clock, start), treatment.updated_at)


def _sex(rng: random.Random, tumour: dist.Tumour) -> str:
    if rng.random() < dist.OTHER_SEX_SHARE:
        return Patient.Sex.OTHER
    female = dist.FEMALE_SHARE_BY_TUMOUR.get(tumour, dist.FEMALE_SHARE)
    return Patient.Sex.FEMALE if rng.random() < female else Patient.Sex.MALE


def _registration(rng: random.Random, clock: Clock, start):
    """When a treatment was entered: a working hour up to ten days before it starts."""
    day = start - rng.randint(*dist.REGISTERED_DAYS_BEFORE_START) * DAY
    return clock.at(day, rng.randrange(8, 17), rng.randrange(60))
