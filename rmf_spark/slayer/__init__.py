"""S-layer: statistics inferred from the C-layer structures, one package per product.

``present_population/`` (devices and people per area at each time point) and ``aggregate/``
(roll-ups to 1 km tiles and zones, expansion from devices to people, shared by the products);
``inputs`` holds what every product's runner reads. ``docs/architecture.md`` gives the recipe
for a new estimator.
"""
