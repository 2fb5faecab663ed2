"""Feature builders, trainers and evaluation for the platform's models (learning loop)."""
