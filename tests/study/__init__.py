"""The study across patients: outcomes, summary, cohort file and export."""
