// Fixture: the library core/a does not depend on.
