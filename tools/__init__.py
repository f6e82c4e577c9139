"""Host-side tools: simulator, deploy, profile checks, session history."""
