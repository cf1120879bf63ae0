"""Budget arithmetic, table-driven: periods in time zones, what a job needs, reserve and settle, per-backend
limits, currencies, refunds, exact fits, and the invariant spent + reserved ≤ limit over random sequences."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from qiskit_argo import crd, estimates
from qiskit_argo.api import (
    QISKIT_BUDGET,
    BudgetLimit,
    CircuitMetrics,
    CostModel,
    QiskitBudget,
    QiskitBudgetSpec,
    QiskitBudgetStatus,
    QiskitJob,
)
from qiskit_argo.budget import (
    EPOCH,
    MAX_REFUSAL,
    InvalidTimeZone,
    Need,
    Refusal,
    applies,
    charge_for,
    need_for,
    period_start,
    refresh,
    reserve,
    settle,
)
from qiskit_argo.catalogue import Catalogue, CatalogueEntry, SessionEntry
from tests.support.schemas import validate_against_crd

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def make_budget(limit: dict[str, str] | None = None, **spec: Any) -> QiskitBudget:
    spec["limit"] = limit or {"amount": "1600.00"}
    return QiskitBudget.model_validate(
        {"metadata": {"name": "team", "namespace": "lab", "generation": 1}, "spec": spec}
    )


def need(seconds: str = "10", amount: str = "16", currency: str = "USD", backend: str | None = "ibm-torino",
         candidates: tuple[str, ...] = ()) -> Need:  # fmt: skip
    return Need(Decimal(seconds), Decimal(amount), currency, backend, int(Decimal(seconds)), "test", candidates)


def accepted(result: QiskitBudgetStatus | Refusal) -> QiskitBudgetStatus:
    assert isinstance(result, QiskitBudgetStatus), getattr(result, "message", result)
    return result


def refused(result: QiskitBudgetStatus | Refusal) -> str:
    assert isinstance(result, Refusal), "expected a refusal"
    assert "\n" not in result.message and len(result.message) <= MAX_REFUSAL, result.message
    return result.message


def with_status(budget: QiskitBudget, status: QiskitBudgetStatus | None) -> QiskitBudget:
    """The budget as the controller would re-read it after writing ``status``."""
    assert status is not None
    again = budget.model_copy(deep=True)
    again.status = QiskitBudgetStatus.model_validate(status.dump())  # through the wire form
    return again


# --------------------------------------------------------------------------- periods


PERIODS = [
    # time zone, now (UTC), the month's first instant (UTC)
    ("UTC", "2026-11-28T12:00:00Z", "2026-11-01T00:00:00Z"),
    ("UTC", "2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z"),
    ("UTC", "2026-11-30T23:59:59.999999Z", "2026-11-01T00:00:00Z"),
    ("UTC", "2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
    # Paris: CET (+1) in winter, CEST (+2) from the last Sunday of March to the last Sunday of October
    ("Europe/Paris", "2026-10-31T23:00:00Z", "2026-10-31T23:00:00Z"),
    ("Europe/Paris", "2026-10-31T22:59:59Z", "2026-09-30T22:00:00Z"),
    ("Europe/Paris", "2026-03-29T01:30:00Z", "2026-02-28T23:00:00Z"),  # the DST change itself
    ("Europe/Paris", "2026-04-01T00:00:00Z", "2026-03-31T22:00:00Z"),
    ("Europe/Paris", "2026-12-31T23:30:00Z", "2026-12-31T23:00:00Z"),  # already 2027 in Paris
    # Los Angeles: DST ends on Sunday 2026-11-01 at 02:00, after the month began at 00:00 PDT
    ("America/Los_Angeles", "2026-11-01T06:59:59Z", "2026-10-01T07:00:00Z"),
    ("America/Los_Angeles", "2026-11-01T07:00:00Z", "2026-11-01T07:00:00Z"),
    ("America/Los_Angeles", "2026-11-01T09:30:00Z", "2026-11-01T07:00:00Z"),  # after the change
    ("America/Los_Angeles", "2026-12-15T00:00:00Z", "2026-12-01T08:00:00Z"),
    # Chatham: +13:45 in summer (from late September), +12:45 in winter
    ("Pacific/Chatham", "2026-10-31T10:15:00Z", "2026-10-31T10:15:00Z"),
    ("Pacific/Chatham", "2026-10-31T10:14:59Z", "2026-09-30T10:15:00Z"),
    ("Pacific/Chatham", "2026-05-10T00:00:00Z", "2026-04-30T11:15:00Z"),
    # Kolkata: +05:30, no DST; leap years
    ("Asia/Kolkata", "2026-11-30T18:30:00Z", "2026-11-30T18:30:00Z"),
    ("Asia/Kolkata", "2028-02-29T18:29:59Z", "2028-01-31T18:30:00Z"),
    ("Asia/Kolkata", "2028-02-29T18:30:00Z", "2028-02-29T18:30:00Z"),  # 1 March 2028, local
    ("UTC", "2028-02-29T23:59:59Z", "2028-02-01T00:00:00Z"),
    ("UTC", "2100-03-01T00:00:00Z", "2100-03-01T00:00:00Z"),  # 2100 is no leap year
    # Asunción: DST began at midnight on Sunday 2017-10-01 (00:00 did not exist): the month begins at the jump
    ("America/Asuncion", "2017-10-15T00:00:00Z", "2017-10-01T04:00:00Z"),
]


@pytest.mark.parametrize(("zone_name", "now", "start"), PERIODS)
def test_a_month_starts_at_its_first_instant_in_the_time_zone(zone_name: str, now: str, start: str) -> None:
    spec = QiskitBudgetSpec.model_validate({"limit": {"amount": "1"}, "timeZone": zone_name})
    assert period_start(spec, at(now)) == at(start)
    assert period_start(spec, at(now)).tzinfo == UTC


ZONES = ["UTC", "Europe/Paris", "America/Los_Angeles", "Pacific/Chatham", "Asia/Kolkata", "America/Asuncion",
         "Australia/Lord_Howe", "America/Havana", "Africa/Casablanca", "Asia/Tehran", "America/St_Johns"]  # fmt: skip


@pytest.mark.parametrize("zone_name", ZONES)
def test_every_month_of_seven_years_starts_on_the_first_and_nothing_earlier_does(zone_name: str) -> None:
    tz = ZoneInfo(zone_name)
    spec = QiskitBudgetSpec.model_validate({"limit": {"amount": "1"}, "timeZone": zone_name})
    for year in range(2024, 2031):
        for month in range(1, 13):
            for day, hour in ((1, 12), (15, 0), (28, 23)):
                start = period_start(spec, datetime(year, month, day, hour, tzinfo=tz))
                local, before = start.astimezone(tz), (start - timedelta(microseconds=1)).astimezone(tz)
                assert (local.year, local.month, local.day) == (year, month, 1), (zone_name, start)
                assert (before.year, before.month) == ((year, month - 1) if month > 1 else (year - 1, 12)), start


def test_a_total_budget_has_one_period_from_the_epoch() -> None:
    spec = QiskitBudgetSpec.model_validate({"limit": {"amount": "1"}, "period": "total", "timeZone": "Europe/Paris"})
    assert period_start(spec, NOW) == EPOCH == period_start(spec, at("2099-12-31T23:59:59Z"))


def test_a_naive_now_is_utc() -> None:
    spec = QiskitBudgetSpec.model_validate({"limit": {"amount": "1"}, "timeZone": "Asia/Kolkata"})
    assert period_start(spec, datetime(2026, 11, 30, 18, 30)) == at("2026-11-30T18:30:00Z")


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "Europe/paris", "Etc/GMT+99", "posixrules/../UTC"])
def test_an_unknown_time_zone_is_one_line(name: str) -> None:
    spec = QiskitBudgetSpec.model_construct(limit=BudgetLimit(amount="1"), period="monthly", time_zone=name)
    with pytest.raises(InvalidTimeZone, match=r"^spec.timeZone .* is not an IANA time zone known here") as raised:
        period_start(spec, NOW)
    assert "\n" not in str(raised.value)


# --------------------------------------------------------------------------- reserve and settle


def test_reserve_holds_the_need_and_says_what_is_left() -> None:
    status = accepted(reserve(make_budget(timeZone="Europe/Paris"), "uid-1", "bell", need(), NOW))
    assert status.period_start == at("2026-10-31T23:00:00Z")
    assert [(r.uid, r.job, r.backend, r.quantum_seconds, r.amount) for r in status.reservations] == [
        ("uid-1", "bell", "ibm-torino", "10", "16")
    ]
    assert status.reserved.dump() == {"quantumSeconds": "10", "amount": "16"}
    assert status.spent.dump() == {"quantumSeconds": "0", "amount": "0"}
    assert status.remaining.dump() == {"amount": "1584"}, "only the limit's unit"
    assert status.summary is not None and status.summary.dump() == {
        "limit": "1600.00 USD", "spent": "0 USD", "reserved": "16 USD", "remaining": "1584 USD"
    }  # fmt: skip
    assert status.message == "1584 USD of 1600 USD left monthly since 2026-11-01 00:00 Europe/Paris; 1 job hold 16 USD"
    document = QiskitBudget.model_validate(make_budget().dump()).dump()
    document["status"] = status.dump()
    validate_against_crd(crd.prune_nulls(document), crd.definition(QISKIT_BUDGET))


def test_reserve_is_idempotent_by_uid() -> None:
    budget = make_budget()
    first = accepted(reserve(budget, "uid-1", "bell", need(), NOW))
    again = accepted(reserve(with_status(budget, first), "uid-1", "bell", need("999", "999"), NOW))
    assert again.reservations == first.reservations and again.reserved == first.reserved
    assert budget.status is None, "the budget read is never changed"


def test_settle_charges_once_and_releases_the_rest() -> None:
    budget = make_budget()
    held = with_status(budget, accepted(reserve(budget, "uid-1", "bell", need("10", "16"), NOW)))
    settled = settle(held, "uid-1", need("4", "6.40"), NOW)
    assert settled is not None and settled.reservations == []
    assert settled.spent.dump() == {"quantumSeconds": "4", "amount": "6.4"}
    assert settled.reserved.dump() == {"quantumSeconds": "0", "amount": "0"}
    assert settled.remaining.dump() == {"amount": "1593.6"}, "the 9.60 not charged is released"
    assert settle(with_status(held, settled), "uid-1", need("4", "6.40"), NOW) is None, "a second settle"
    assert settle(held, "never-reserved", need(), NOW) is None


def test_a_charge_of_nothing_releases_everything() -> None:
    budget = make_budget()
    held = with_status(budget, accepted(reserve(budget, "uid-1", "bell", need("10", "16"), NOW)))
    settled = settle(held, "uid-1", need("0", "0", currency=""), NOW)
    assert settled is not None and settled.remaining.dump() == {"amount": "1600"}


EXACT_FITS = [
    # limit, need's quantum seconds, need's amount: the budget takes exactly 10
    ({"amount": "16.00"}, "1", "1.60"),
    ({"amount": "1.0"}, "1", "0.1"),  # 0.1 is no binary float: ten of them are 0.9999999999999999 there
    ({"amount": "0.000000010"}, "1", "0.000000001"),
    ({"quantumSeconds": "100"}, "10", "0"),
    ({"quantumSeconds": "3"}, "0.3", "5"),
    ({"amount": "999999999999.9"}, "1", "99999999999.99"),
]


@pytest.mark.parametrize(("limit", "seconds", "amount"), EXACT_FITS)
def test_a_budget_that_fits_exactly_ten_takes_the_tenth_and_refuses_the_eleventh(
    limit: dict[str, str], seconds: str, amount: str
) -> None:
    budget = make_budget(limit)
    for index in range(10):
        budget = with_status(budget, accepted(reserve(budget, f"uid-{index}", f"job-{index}", need(seconds, amount),
                                                      NOW)))  # fmt: skip
    assert budget.status is not None and budget.status.remaining.dump() in ({"amount": "0"}, {"quantumSeconds": "0"})
    assert [c.status for c in budget.status.conditions if c.type == "Exhausted"] == ["True"]
    message = refused(reserve(budget, "uid-10", "job-10", need(seconds, amount), NOW))
    assert "job job-10 needs up to" in message and "has 0 " in message
    settled = settle(budget, "uid-0", need("0", "0"), NOW)
    assert accepted(reserve(with_status(budget, settled), "uid-10", "job-10", need(seconds, amount), NOW))


def test_a_refusal_names_the_budget_its_period_the_need_and_what_is_left() -> None:
    budget = make_budget({"amount": "20"}, timeZone="Europe/Paris")
    budget = with_status(budget, accepted(reserve(budget, "uid-1", "first", need("10", "16"), NOW)))
    message = refused(reserve(budget, "uid-2", "second", need("10", "16"), NOW))
    assert message == (
        "QiskitBudget team (monthly since 2026-11-01 00:00 Europe/Paris): job second needs up to 10 quantum seconds "
        "and 16 USD; its limit of 20 USD has 4 USD left"
    )
    total = make_budget({"quantumSeconds": "5"}, period="total")
    assert refused(reserve(total, "uid-1", "big", need("6", "0"), NOW)) == (
        "QiskitBudget team (in total): job big needs up to 6 quantum seconds; "
        "its limit of 5 quantum seconds has 5 quantum seconds left"
    )


def test_a_refusal_fits_one_line_however_long_the_names() -> None:
    budget = make_budget({"amount": "1"}, backends=[{"backend": "b" * 250, "amount": "0"}])
    message = refused(reserve(budget, "uid", "j" * 63, need("1", "2", backend="b" * 250), NOW))
    assert message.startswith("QiskitBudget team (monthly since 2026-11-01 00:00 UTC)")


def test_per_backend_limits_count_what_runs_there() -> None:
    budget = make_budget(backends=[{"backend": "ibm-torino", "amount": "800.00"}, {"backend": "ibm-fez",
                                                                                  "quantumSeconds": "60"}])  # fmt: skip
    budget = with_status(budget, accepted(reserve(budget, "u1", "a", need("100", "500"), NOW)))
    message = refused(reserve(budget, "u2", "b", need("100", "500"), NOW))
    assert "the limit for backend ibm-torino of 800 USD has 300 USD left" in message
    assert "its limit" not in message, "the overall limit is not the one exceeded"
    elsewhere = accepted(reserve(budget, "u2", "b", need("50", "500", backend="ibm-kyiv"), NOW))
    assert elsewhere.reserved.amount == "1000"
    fez = refused(reserve(budget, "u3", "c", need("61", "1", backend="ibm-fez"), NOW))
    assert "the limit for backend ibm-fez of 60 quantum seconds has 60 quantum seconds left" in fez
    shares = {share.backend: share for share in elsewhere.backends}
    assert shares["ibm-torino"].remaining is not None and shares["ibm-torino"].remaining.dump() == {"amount": "300"}
    assert shares["ibm-fez"].remaining is not None and shares["ibm-fez"].remaining.dump() == {"quantumSeconds": "60"}
    assert shares["ibm-kyiv"].remaining is None and shares["ibm-kyiv"].reserved.amount == "500"


def test_spent_on_a_backend_counts_against_its_limit_until_the_month_ends() -> None:
    budget = make_budget(backends=[{"backend": "ibm-torino", "amount": "800"}])
    budget = with_status(budget, accepted(reserve(budget, "u1", "a", need("100", "700"), NOW)))
    budget = with_status(budget, settle(budget, "u1", need("90", "600"), NOW))
    assert budget.status is not None and budget.status.backends[0].spent.dump() == {"quantumSeconds": "90",
                                                                                     "amount": "600"}  # fmt: skip
    assert "has 200 USD left" in refused(reserve(budget, "u2", "b", need("10", "201"), NOW))
    december = accepted(reserve(budget, "u2", "b", need("10", "201"), at("2026-12-01T00:00:00Z")))
    assert december.backends[0].spent.dump() == {"quantumSeconds": "0", "amount": "0"}


SELECTORS = [
    # the need's backend and candidates, whether ibm-torino's limit counts it
    (None, ("ibm-torino", "ibm-fez"), True),
    (None, ("ibm-fez", "sim"), False),
    (None, (), True),  # no candidates known: every per-backend limit counts it
    ("ibm-torino", (), True),
    ("ibm-fez", (), False),
]


@pytest.mark.parametrize(("backend", "candidates", "counted"), SELECTORS)
def test_a_selector_counts_against_the_limit_of_every_backend_it_may_pick(
    backend: str | None, candidates: tuple[str, ...], counted: bool
) -> None:
    budget = make_budget(backends=[{"backend": "ibm-torino", "amount": "10"}])
    held = accepted(reserve(budget, "u1", "a", need("1", "8", backend=backend, candidates=candidates), NOW))
    after = reserve(with_status(budget, held), "u2", "b", need("1", "8"), NOW)
    assert isinstance(after, Refusal) is counted
    assert held.reservations[0].candidates == list(candidates)


CURRENCIES = [
    # the budget's limit and currency, the need's currency, whether it applies, the amount reserved
    ({"amount": "100"}, "USD", "USD", True, "16"),
    ({"amount": "100"}, "EUR", "USD", False, "0"),
    ({"quantumSeconds": "100"}, "EUR", "USD", True, "0"),
    ({"amount": "100"}, "EUR", "", False, "0"),
]


@pytest.mark.parametrize(("limit", "currency", "priced_in", "relevant", "amount"), CURRENCIES)
def test_money_counts_only_in_the_budgets_currency(
    limit: dict[str, str], currency: str, priced_in: str, relevant: bool, amount: str
) -> None:
    budget = make_budget(limit, currency=currency)
    asked = need("10", "16" if priced_in else "0", currency=priced_in)
    assert applies(budget, asked) is relevant
    assert accepted(reserve(budget, "u1", "a", asked, NOW)).reservations[0].amount == amount


def test_a_per_backend_limit_in_seconds_applies_to_a_need_in_another_currency() -> None:
    budget = make_budget(currency="EUR", backends=[{"backend": "ibm-torino", "quantumSeconds": "5"}])
    assert applies(budget, need("10", "16", currency="USD"))
    assert not applies(budget, need("10", "16", currency="USD", backend="ibm-fez"))
    assert "ibm-torino" in refused(reserve(budget, "u1", "a", need("10", "16", currency="USD"), NOW))


def test_a_new_month_resets_spent_and_keeps_reservations() -> None:
    budget = make_budget({"amount": "100"}, timeZone="Europe/Paris")
    october = at("2026-10-15T12:00:00Z")
    budget = with_status(budget, accepted(reserve(budget, "u1", "old", need("10", "40"), october)))
    budget = with_status(budget, accepted(reserve(budget, "u2", "running", need("10", "30"), october)))
    budget = with_status(budget, settle(budget, "u1", need("10", "40"), october))
    assert budget.status is not None and budget.status.spent.amount == "40"
    assert "has 30 USD left" in refused(reserve(budget, "u3", "new", need("1", "31"), october))
    november = accepted(reserve(budget, "u3", "new", need("1", "31"), at("2026-10-31T23:00:00Z")))
    assert november.period_start == at("2026-10-31T23:00:00Z")
    assert november.spent.dump() == {"quantumSeconds": "0", "amount": "0"}
    assert [r.uid for r in november.reservations] == ["u2", "u3"], "the running job keeps its reservation"
    settled = settle(with_status(budget, november), "u2", need("5", "20"), at("2026-11-02T00:00:00Z"))
    assert settled is not None and settled.spent.amount == "20", "charged in the month it ends"


def test_a_clock_that_goes_back_never_resets_spent() -> None:
    budget = make_budget({"amount": "100"})
    budget = with_status(budget, accepted(reserve(budget, "u1", "a", need("1", "40"), NOW)))
    budget = with_status(budget, settle(budget, "u1", need("1", "40"), NOW))
    earlier = refresh(budget, at("2026-10-31T23:59:00Z"))
    assert earlier.spent.amount == "40"


def test_an_unknown_time_zone_refuses_jobs_but_still_settles() -> None:
    budget = make_budget()
    budget = with_status(budget, accepted(reserve(budget, "u1", "a", need(), NOW)))
    broken = budget.model_copy(deep=True)
    broken.spec = QiskitBudgetSpec.model_construct(**{**dict(budget.spec), "time_zone": "Mars/Base"})
    message = refused(reserve(broken, "u2", "b", need(), NOW))
    assert message.startswith("QiskitBudget team: spec.timeZone 'Mars/Base' is not an IANA time zone")
    status = refresh(broken, NOW)
    ready = next(c for c in status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", "InvalidTimeZone") and "Mars/Base" in (status.message or "")
    settled = settle(broken, "u1", need("1", "1"), NOW)
    assert settled is not None and settled.reservations == [] and settled.spent.amount == "1"


CONDITIONS = [
    # percent, reserved amount of 100, (Exhausted, NearlyExhausted)
    (90, "89.99", ("False", "False")),
    (90, "90", ("False", "True")),
    (50, "50", ("False", "True")),
    (100, "99.999999999", ("False", "False")),
    (100, "100", ("True", "True")),
]


@pytest.mark.parametrize(("percent", "amount", "expected"), CONDITIONS)
def test_conditions_follow_spent_and_reserved(percent: int, amount: str, expected: tuple[str, str]) -> None:
    budget = make_budget({"amount": "100"}, nearlyExhaustedPercent=percent)
    status = accepted(reserve(budget, "u1", "a", need("1", amount), NOW))
    found = {c.type: c.status for c in status.conditions}
    assert (found["Exhausted"], found["NearlyExhausted"]) == expected and found["Ready"] == "True"
    assert all(c.observed_generation == 1 for c in status.conditions)


def test_a_per_backend_limit_nearly_exhausted_is_said() -> None:
    budget = make_budget(backends=[{"backend": "ibm-torino", "amount": "10"}])
    status = accepted(reserve(budget, "u1", "a", need("1", "9.5"), NOW))
    nearly = next(c for c in status.conditions if c.type == "NearlyExhausted")
    assert nearly.status == "True" and "backend ibm-torino: 9.5 USD of 10 USD" in nearly.message


def test_a_condition_keeps_its_transition_time_while_it_holds() -> None:
    budget = make_budget({"amount": "100"})
    first = accepted(reserve(budget, "u1", "a", need("1", "95"), NOW))
    later = accepted(reserve(with_status(budget, first), "u2", "b", need("1", "1"), NOW + timedelta(hours=1)))
    times = {c.type: c.last_transition_time for c in later.conditions}
    assert times["NearlyExhausted"] == NOW and times["Ready"] == NOW
    freed = settle(with_status(budget, later), "u1", need("0", "0"), NOW + timedelta(hours=2))
    assert freed is not None
    assert {c.type: c.last_transition_time for c in freed.conditions}["NearlyExhausted"] == NOW + timedelta(hours=2)


def test_an_overrun_charge_leaves_nothing_and_never_less() -> None:
    budget = make_budget({"quantumSeconds": "10"})
    budget = with_status(budget, accepted(reserve(budget, "u1", "a", need("10", "0"), NOW)))
    settled = settle(budget, "u1", need("10.4", "0"), NOW)  # IBM stopped it a little after max_execution_time
    assert settled is not None and settled.remaining.dump() == {"quantumSeconds": "0"}
    assert settled.summary is not None and settled.summary.remaining == "0 s"


# --------------------------------------------------------------------------- the invariant, over random sequences


@pytest.mark.parametrize("seed", range(12))
def test_spent_plus_reserved_never_exceeds_a_limit(seed: int) -> None:
    rng = random.Random(seed)
    backends = ["ibm-torino", "ibm-fez", "sim"]
    limits = {"ibm-torino": Decimal(rng.randint(5, 40)), "ibm-fez": Decimal(rng.randint(5, 40))}
    overall = Decimal(rng.randint(20, 60))
    budget = make_budget({"amount": str(overall)}, backends=[{"backend": b, "amount": str(v)} for b, v in
                                                            limits.items()])  # fmt: skip
    held: dict[str, Need] = {}
    settled: set[str] = set()
    charged = Decimal(0)
    for step in range(200):
        if held and rng.random() < 0.4:
            uid = rng.choice(sorted(held))
            reserved = held.pop(uid)
            cents = rng.randint(0, int(reserved.amount * 100))
            charge = Decimal(cents) / 100
            status = settle(budget, uid, need("0", str(charge), backend=reserved.backend), NOW)
            assert status is not None, uid
            charged += charge
            settled.add(uid)
        elif settled and rng.random() < 0.1:
            assert settle(budget, rng.choice(sorted(settled)), need(), NOW) is None, "settled twice"
            continue
        else:
            uid = f"u{step}" if not held or rng.random() < 0.9 else rng.choice(sorted(held))
            on = rng.choice([*backends, None])
            asked = need("1", str(Decimal(rng.randint(1, 900)) / 100), backend=on,
                         candidates=tuple(rng.sample(backends, 2)) if on is None else ())  # fmt: skip
            result = reserve(budget, uid, uid, asked, NOW)
            if isinstance(result, Refusal):
                assert uid not in held
                continue
            status = result
            held.setdefault(uid, asked)
        budget = with_status(budget, status)
        assert budget.status is not None
        spent, reserved_total = Decimal(budget.status.spent.amount or 0), Decimal(budget.status.reserved.amount or 0)
        assert spent == charged and reserved_total == sum((n.amount for n in held.values()), Decimal(0))
        assert spent + reserved_total <= overall
        assert sorted(r.uid for r in budget.status.reservations) == sorted(held)
        for share in budget.status.backends:
            if share.backend in limits:
                used = Decimal(share.spent.amount or 0) + Decimal(share.reserved.amount or 0)
                assert used <= limits[share.backend], (seed, step, share)
    assert settled, "the sequence settled something"


# --------------------------------------------------------------------------- what a job needs


TORINO = CatalogueEntry(name="ibm-torino", type="ibm", device="ibm_torino", num_qubits=133,
                        cost=CostModel(currency="USD", per_quantum_second="1.60"))  # fmt: skip
FEZ = CatalogueEntry(name="ibm-fez", type="ibm", device="ibm_fez", num_qubits=156,
                     cost=CostModel(currency="USD", per_quantum_second="1.20", per_job="0.50"))  # fmt: skip
FAKE = CatalogueEntry(name="fake-sherbrooke", type="ibm", device="fake_sherbrooke", fake=True, num_qubits=127)
SIM = CatalogueEntry(name="sim", type="aer", device="aer_simulator")
PAID_SIM = CatalogueEntry(name="paid-sim", type="aer", device="aer_simulator",
                          cost=CostModel(currency="EUR", per_shot="0.0001"))  # fmt: skip
SMALL = CatalogueEntry(name="small", type="ibm", device="ibm_small", num_qubits=5,
                       cost=CostModel(per_quantum_second="100"))  # fmt: skip
UNPROBED = CatalogueEntry(name="unprobed", type="ibm", device="ibm_new", cost=CostModel(per_quantum_second="2"))
OFF = CatalogueEntry(name="off", type="ibm", device="ibm_off", enabled=False, cost=CostModel(per_quantum_second="9"))
CATALOGUE = Catalogue(entries=[TORINO, FEZ, FAKE, SIM, PAID_SIM, SMALL, UNPROBED, OFF])


QASM = "OPENQASM 3.0; qubit q; bit c; h q; c = measure q;"


def job(backend: dict[str, Any] | None = None, **spec: Any) -> QiskitJob:
    spec.setdefault("circuit", {"openqasm": QASM})
    if spec["circuit"] is None:
        del spec["circuit"]
    if backend is not None:
        spec["backend"] = backend
    return QiskitJob.model_validate({"metadata": {"name": "j", "namespace": "lab", "uid": "u"}, "spec": spec})


NEEDS = [
    # case, job, (quantum seconds, amount, currency, backend, max_execution_time)
    ("built-in aer", job(), None),
    ("free aer", job({"ref": "sim"}), None),
    ("unknown backend", job({"ref": "nope"}), None),
    ("paid aer", job({"ref": "paid-sim"}, shots=1000), ("0", "0.1", "EUR", "paid-sim", 0)),
    # 2 s + (250 µs + 1 ms) × 1024 = 3.28 s -> 4 s, at 1.60 USD/s
    ("torino", job({"ref": "ibm-torino"}), ("4", "6.4", "USD", "ibm-torino", 4)),
    ("torino sweep", job({"ref": "ibm-torino"}, shots=1000, parameterValues=[[0.1], [0.2], [0.3], [0.4]]),
     ("7", "11.2", "USD", "ibm-torino", 7)),  # 2 + 0.00125 × 4000 = 7
    ("max execution time", job({"ref": "ibm-torino", "ibm": {"maxExecutionTime": 30}}),
     ("30", "48", "USD", "ibm-torino", 30)),
    ("capped at 3 h", job({"ref": "ibm-torino"}, shots=10_000_000),
     ("10800", "17280", "USD", "ibm-torino", 10_800)),
    # estimator: 1/0.0625² = 256 shots × 2 (resilience 1) × 2 Pauli terms (ZZ, XX; II is free) = 1024
    ("estimator", job({"ref": "ibm-fez"}, primitive="estimator", precision=0.0625,
                      observables=[{"ZZ": 1, "II": 1}, {"XX": 1, "ZZ": 0.5}]), ("4", "5.3", "USD", "ibm-fez", 4)),
    ("estimator level 2", job({"ref": "ibm-fez", "ibm": {"resilienceLevel": 2}}, primitive="estimator",
                              precision=0.0625, observables=[{"ZZ": 1}]), ("4", "5.3", "USD", "ibm-fez", 4)),
    ("fake, no cost model", job({"ref": "fake-sherbrooke"}), ("4", "0", "", "fake-sherbrooke", 4)),
    # several PUBs in one IBM job: one overhead, 1000 + 2 × 500 = 2000 executions: 2 + 0.00125 × 2000 = 4.5 -> 5
    ("pubs", job({"ref": "ibm-torino"}, circuit=None, shots=500, pubs=[
        {"circuit": {"openqasm": QASM}, "shots": 1000},
        {"circuit": {"openqasm": QASM}, "parameterValues": [[0.1], [0.2]]},
    ]), ("5", "8", "USD", "ibm-torino", 5)),
    # 256 shots x 2 (resilience) x 1 term + 64 shots x 2 bindings x 2 x 2 terms = 1024 executions -> 4 s
    ("estimator pubs", job({"ref": "ibm-fez"}, circuit=None, primitive="estimator", pubs=[
        {"circuit": {"openqasm": QASM}, "precision": 0.0625, "observables": [{"ZZ": 1}]},
        {"circuit": {"openqasm": QASM}, "precision": 0.125, "parameterValues": [[0.1], [0.2]],
         "observables": [{"ZZ": 1}, {"XX": 1}]},
    ]), ("4", "5.3", "USD", "ibm-fez", 4)),
    # values from storage: unknown bindings until the validate step reads them, IBM's longest job
    ("values from an artifact", job({"ref": "ibm-torino"}, parameterValuesFrom={"artifact": {"key": "sweeps/a.npy"}}),
     ("10800", "17280", "USD", "ibm-torino", 10_800)),
    ("values from an artifact, bounded", job({"ref": "ibm-torino", "ibm": {"maxExecutionTime": 60}},
                                             parameterValuesFrom={"configMapKeyRef": {"name": "s", "key": "v"}}),
     ("60", "96", "USD", "ibm-torino", 60)),
    # per shot: the most bindings the validate step accepts x 1024 shots x 0.0001 EUR
    ("values from an artifact on a paid simulator", job({"ref": "paid-sim"},
                                                        parameterValuesFrom={"artifact": {"key": "a.json"}}),
     ("0", str(Decimal(estimates.UNKNOWN_BINDINGS * 1024) / 10_000), "EUR", "paid-sim", 0)),
]  # fmt: skip


@pytest.mark.parametrize(("case", "the_job", "expected"), NEEDS, ids=[n[0] for n in NEEDS])
def test_need_for(case: str, the_job: QiskitJob, expected: tuple[str, str, str, str | None, int] | None) -> None:
    found = need_for(the_job, CATALOGUE)
    if expected is None:
        assert found is None
        return
    assert found is not None
    seconds, amount, currency, backend, limit = expected
    assert (found.quantum_seconds, found.amount, found.currency, found.backend, found.max_execution_time) == (
        Decimal(seconds),
        Decimal(amount),
        currency,
        backend,
        limit,
    )
    assert isinstance(found.amount, Decimal) and "\n" not in found.how and len(found.how) <= 300, found.how


def test_the_upper_bound_is_ibms_model_with_a_worst_case_circuit() -> None:
    assert estimates.upper_bound_quantum_seconds(1024) == Decimal("3.28")
    assert estimates.upper_bound_quantum_seconds(0) == estimates.upper_bound_quantum_seconds(1)
    assert estimates.upper_bound_quantum_seconds(4000, circuit_seconds=0) == Decimal("3")
    circuit_bound = estimates.estimate_quantum_seconds(1, 1024, 990)  # 990 layers and a readout
    assert Decimal(str(circuit_bound)) <= estimates.upper_bound_quantum_seconds(1024)


def test_a_selector_reserves_for_its_dearest_candidate() -> None:
    found = need_for(job({"selector": {"type": "ibm", "minQubits": 100}}), CATALOGUE)
    assert found is not None and found.backend is None
    assert found.candidates == ("fake-sherbrooke", "ibm-fez", "ibm-torino", "unprobed")  # not small, not off
    assert (found.quantum_seconds, found.amount, found.currency) == (Decimal(4), Decimal("8"), "USD")  # unprobed: 2/s
    assert found.how.startswith("upper bound on any of fake-sherbrooke, ibm-fez, ibm-torino, unprobed: 4 quantum")
    fallback = need_for(job({"selector": {"type": "ibm", "minQubits": 1000, "allowSimulatorFallback": True}}),
                        CATALOGUE)  # fmt: skip
    assert fallback is not None and "paid-sim" in fallback.candidates and "sim" not in fallback.candidates
    assert need_for(job({"selector": {"type": "aer"}}), Catalogue(entries=[SIM])) is None
    single = need_for(job({"selector": {"type": "ibm"}}), Catalogue(entries=[TORINO, SIM]))
    assert single is not None and single.backend == "ibm-torino" and single.candidates == ()


def test_a_session_job_reserves_on_the_sessions_backend() -> None:
    session = SessionEntry(name="night", backend_ref="ibm-fez", mode="batch")
    catalogue = CATALOGUE.model_copy(update={"session": session})
    found = need_for(job(sessionRef="night"), catalogue)
    assert found is not None and found.backend == "ibm-fez" and found.amount == Decimal("5.3")
    unknown = need_for(job(sessionRef="gone"), catalogue)
    assert unknown is not None and unknown.backend is None and "ibm-torino" in unknown.candidates


def ended(phase: str, backend: str, seconds: float | None, **spec: Any) -> QiskitJob:
    the_job = job({"ref": backend}, **spec)
    status: dict[str, Any] = {"phase": phase, "backend": {"name": backend}}
    if seconds is not None:
        status["ibm"] = {"jobId": "d1", "quantumSeconds": seconds}
    the_job.status = the_job.model_validate({**copy.deepcopy(the_job.dump()), "status": status}).status
    return the_job


CHARGES = [
    # phase, backend, IBM's quantum seconds, (seconds, amount, currency)
    ("Succeeded", "ibm-fez", 2.5, ("2.5", "3.5", "USD")),  # 2.5 × 1.20 + 0.50 per job
    ("Failed", "ibm-fez", 1.25, ("1.25", "1.5", "USD")),  # the quantum time only
    ("Failed", "ibm-fez", None, ("0", "0", "USD")),  # nothing ran
    ("Succeeded", "paid-sim", None, ("0", "0.1024", "EUR")),  # 1024 shots × 0.0001
    ("Succeeded", "fake-sherbrooke", 3.0, ("3", "0", "")),
]


@pytest.mark.parametrize(("phase", "backend", "seconds", "expected"), CHARGES)
def test_charge_for(phase: str, backend: str, seconds: float | None, expected: tuple[str, str, str]) -> None:
    charge = charge_for(ended(phase, backend, seconds), CATALOGUE)
    assert (charge.quantum_seconds, charge.amount, charge.currency) == tuple(
        [Decimal(expected[0]), Decimal(expected[1]), expected[2]]
    )
    assert charge.backend == backend and charge.max_execution_time == 0 and "\n" not in charge.how


def test_charge_without_a_catalogue_is_the_quantum_time() -> None:
    charge = charge_for(ended("Succeeded", "ibm-fez", 2.5), None)
    assert (charge.quantum_seconds, charge.amount) == (Decimal("2.5"), Decimal(0))


@pytest.mark.parametrize(
    ("spec", "ran", "shots"),
    [
        # inline PUBs: Σ rows x shots (1000 + 2 x 500)
        ({"circuit": None, "shots": 500, "pubs": [{"circuit": {"openqasm": QASM}, "shots": 1000},
          {"circuit": {"openqasm": QASM}, "parameterValues": [[0.1], [0.2]]}]}, 3, 2000),
        # values from storage: what ran besides the inline rows, at that PUB's shots (1 x 100 + 40 x 10)
        ({"circuit": None, "pubs": [{"circuit": {"openqasm": QASM}, "shots": 100},
          {"circuit": {"openqasm": QASM}, "shots": 10, "parameterValuesFrom": {"artifact": {"key": "a.npy"}}}]},
         41, 500),
    ],
)  # fmt: skip
def test_a_succeeded_job_pays_the_shots_of_every_pub(spec: dict[str, Any], ran: int, shots: int) -> None:
    the_job = ended("Succeeded", "paid-sim", None, **spec)
    assert the_job.status is not None
    the_job.status = the_job.status.model_copy(
        update={"circuit": CircuitMetrics(num_qubits=1, depth=1, size=1, num_bindings=ran)}
    )
    charge = charge_for(the_job, CATALOGUE)
    assert charge.amount == Decimal(shots) / 10_000 and charge.currency == "EUR"
