"""C-layer (convergence): INSPIRE grid, cell footprints, connection probabilities, events."""
