"""The question templates on the ``hospital`` database (patients, doctors and appointments)."""

from __future__ import annotations

from typing import Final

from mtenvs.envs.sql.template_spec import CITIES, YEARS, Template

__all__ = ["TEMPLATES"]

#: In catalogue order (see :data:`mtenvs.envs.sql.templates.TEMPLATES`).
TEMPLATES: Final[tuple[Template, ...]] = (
    Template(
        "hospital_doctor_rank",
        "hospital",
        ("join", "window", "aggregate"),
        (
            "For every doctor, give name, specialty, number of appointments and the doctor's "
            "rank by appointment count within the specialty (RANK, busiest = 1).",
            "Rank doctors within their specialty by how many appointments they have (rank 1 is "
            "the busiest; use RANK). Columns: name, specialty, appointments, rank.",
            "Doctor name, specialty, appointment count and the RANK of that count inside the "
            "specialty, largest first.",
        ),
        "SELECT d.name, d.specialty, COUNT(a.id) AS n, RANK() OVER (PARTITION BY d.specialty "
        "ORDER BY COUNT(a.id) DESC) AS rnk FROM doctors d JOIN appointments a "
        "ON a.doctor_id = d.id GROUP BY d.id, d.name, d.specialty",
    ),
    Template(
        "hospital_monthly_volume",
        "hospital",
        ("date", "aggregate", "order_limit"),
        (
            "How many appointments were there in each month of {year}? Give the month as "
            "YYYY-MM and the count, in month order.",
            "Monthly appointment counts for {year} (month as YYYY-MM, count), sorted by month.",
            "List every month of {year} that had appointments (YYYY-MM) with its number of "
            "appointments, chronologically.",
        ),
        "SELECT substr(appt_date, 1, 7) AS month, COUNT(*) AS n FROM appointments "
        "WHERE substr(appt_date, 1, 4) = '{year}' GROUP BY substr(appt_date, 1, 7) "
        "ORDER BY month",
        {"year": YEARS},
    ),
    Template(
        "hospital_uninsured",
        "hospital",
        ("null", "filter"),
        (
            "List the names of patients in {city} whose insurance is not recorded.",
            "Which {city} patients have no insurance value on file (NULL)? Names only.",
            "Names of the patients from {city} with a missing insurance entry.",
        ),
        "SELECT name FROM patients WHERE city = '{city}' AND insurance IS NULL",
        {"city": CITIES},
    ),
    Template(
        "hospital_fee_by_specialty",
        "hospital",
        ("join", "aggregate"),
        (
            "What is the average appointment fee per specialty for appointments diagnosed as "
            "{diagnosis}? Specialty and average fee rounded to 2 decimals.",
            "Per specialty, the mean fee (2 decimals) of {diagnosis} appointments.",
            "Average fee of appointments with diagnosis {diagnosis}, grouped by the doctor's "
            "specialty (specialty, average rounded to cents).",
        ),
        "SELECT d.specialty, ROUND(AVG(a.fee), 2) AS avg_fee FROM appointments a "
        "JOIN doctors d ON d.id = a.doctor_id WHERE a.diagnosis = '{diagnosis}' "
        "GROUP BY d.specialty",
        {"diagnosis": ("flu", "fracture", "migraine", "allergy", "hypertension")},
    ),
    Template(
        "hospital_purge_undiagnosed",
        "hospital",
        ("delete", "null", "date"),
        (
            "Delete all appointments before {date} that have no diagnosis.",
            "Remove the undiagnosed appointments (diagnosis missing) dated earlier than {date}.",
            "Purge appointments prior to {date} whose diagnosis is NULL.",
        ),
        "DELETE FROM appointments WHERE diagnosis IS NULL AND appt_date < '{date}'",
        {"date": ("2021-01-01", "2022-01-01", "2023-01-01")},
        kind="write",
    ),
    Template(
        "hospital_city_intersect",
        "hospital",
        ("set_op",),
        (
            "Which cities have both a patient with '{insurance}' insurance and a patient born "
            "after {year}-12-31? List the cities.",
            "Cities that are home to a {insurance}-insured patient and also to a patient born "
            "later than {year}.",
            "List each city with at least one patient insured '{insurance}' and at least one "
            "patient born after the end of {year}.",
        ),
        "SELECT city FROM patients WHERE insurance = '{insurance}' INTERSECT "
        "SELECT city FROM patients WHERE birth_date > '{year}-12-31'",
        {"insurance": ("public", "private", "none"), "year": ("1990", "2000", "2005")},
    ),
)
