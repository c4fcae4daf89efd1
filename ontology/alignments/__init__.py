"""Site alignment files (Turtle), one per site, named ``<site code>.ttl``."""
