"""Pregnancy dating from the last menstrual period (LMP)."""

from __future__ import annotations

import datetime as dt

from medreasoner.calculators.entities import Entities, EntityError, Steps

STANDARD_CYCLE_DAYS = 28


def _mdy(d: dt.date) -> str:
    return d.strftime("%m/%d/%Y")


def due_date(e: Entities):
    """Estimated due date: Naegele's rule, LMP + 280 days, shifted by (cycle length − 28) days
    (the Mittendorf-Williams / Parikh adjustment for non-28-day cycles)."""
    s = Steps()
    lmp = e.date("Last menstrual date")
    cycle = int(e.number("cycle length", STANDARD_CYCLE_DAYS))
    value = lmp + dt.timedelta(days=280 + cycle - STANDARD_CYCLE_DAYS)
    s.add(f"Naegele's rule: LMP {_mdy(lmp)} + 280 days = {_mdy(lmp + dt.timedelta(days=280))}.")
    s.add(f"Cycle length {cycle} days: shift by {cycle - STANDARD_CYCLE_DAYS} days -> {_mdy(value)}.")
    return s.result(value)


def conception_date(e: Entities):
    """Estimated date of conception: LMP + 14 days, ovulation two weeks after the LMP of a 28-day cycle
    (ACOG Committee Opinion 700, 2017, dating by LMP)."""
    s = Steps()
    lmp = e.date("Last menstrual date")
    value = lmp + dt.timedelta(days=14)
    s.add(f"Conception ≈ LMP + 2 weeks = {_mdy(lmp)} + 14 days = {_mdy(value)}.")
    return s.result(value)


def gestational_age(e: Entities):
    """Gestational age (weeks, days) = current date − LMP (ACOG Committee Opinion 700, 2017)."""
    s = Steps()
    lmp = e.date("Last menstrual date")
    today = e.date("Current Date")
    days = (today - lmp).days
    if days < 0:
        raise EntityError("Current Date", "is before the last menstrual date")
    value = (days // 7, days % 7)
    s.add(f"{_mdy(today)} − {_mdy(lmp)} = {days} days = {value[0]} weeks and {value[1]} days.")
    return s.result(value)
