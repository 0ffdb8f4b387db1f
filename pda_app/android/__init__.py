"""Android build starting point (buildozer): not built in CI."""
