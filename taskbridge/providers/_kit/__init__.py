"""The provider kit: what every provider folder builds on."""
