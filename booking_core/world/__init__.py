"""The synthetic world: restaurants, diners with latent tastes and months of history."""
