"""Standards at the edge of the closed loop: Open311 GeoReport v2 and CAP 1.2."""
