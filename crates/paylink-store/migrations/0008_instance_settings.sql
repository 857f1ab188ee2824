-- Facts an instance records at its first start and checks at every later one: the mode
-- (sandbox or live: test and live money never share a database) and a check value of the
-- instance keys (a keyed hash: it names the key file that belongs to this database without
-- revealing anything of it). The keys themselves live outside the database (key file or
-- environment); the rows of instance_secrets are moved out to the key file on upgrade.
CREATE TABLE instance_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
