"""Command-line tools around the app (deploy-risk guard)."""
