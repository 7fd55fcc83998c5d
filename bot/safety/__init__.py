"""Care rules that live in code: operator prompts a persona card cannot override, the AI
disclosure, and the crisis screen."""
