"""The web console (`autotranscode console`): see docs/console.md."""
