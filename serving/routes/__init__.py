"""One router per resource; each stays thin and calls the booking core."""
