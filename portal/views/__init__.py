"""The portal's blueprints. Routes are thin: they call portal.provider and portal.sessions."""
