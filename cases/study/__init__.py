"""The study across patients: its outcomes and summary (SPEC §8, §9), the cohort file (§11)
and the pseudonymised export."""
