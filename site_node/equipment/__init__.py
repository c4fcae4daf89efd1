"""Equipment health at the site: indicators per asset and batch, drift events, recommendations."""
