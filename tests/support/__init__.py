"""Helpers shared by the test suites: live servers, Redis, the customer journey."""
