"""Test support shared by every test folder: paths, fake servers, scorer doubles, training fixtures."""
