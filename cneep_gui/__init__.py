"""CNEEP Studio desktop app."""
