"""The store's schema, as ordered migrations: one file each, applied in order by handlers/adapters/store/schema.py.

To change the schema, add ONE file here: vNNNN_what_it_does.py, numbered one past the highest (v0002, v0003, ...),
defining

    def statements(d: Dialect) -> list[str]:
        return ["ALTER TABLE at_jobs ADD COLUMN note TEXT"]   # d.mysql / d.sqlite / d.datetime for what differs

Rules: never edit a migration that has shipped (stores out there ran it); only add (old functions may still run
against the new schema during a deploy); on MySQL DDL commits at once, so a migration there must be safe to re-run
after a crash half-way (IF NOT EXISTS where the database has it). A test fails on a gap or a repeated number.
"""
