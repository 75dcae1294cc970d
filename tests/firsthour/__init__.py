"""The first hour with Crossroads: what a newcomer runs, as the README and the demo say."""
