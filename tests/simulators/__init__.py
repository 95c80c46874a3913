"""Platform simulators: real HTTP peers speaking each platform's protocol."""
