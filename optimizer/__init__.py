"""CP-SAT table assignment, acceptance checks and seating simulation."""
