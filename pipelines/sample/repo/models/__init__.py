"""Model building blocks. Import the individual modules directly."""
