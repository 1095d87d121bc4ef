"""The administrators' cockpit: retries that say what happened, and batch retry and terminate."""
