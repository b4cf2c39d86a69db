-- Partition the journal (payments_journalentry) by month: step 1 of the plan in the
-- README ("Beyond one machine"). Not applied by any migration: run it in a maintenance
-- window once the journal nears a billion rows. tests/ledger/test_partitioned_journal.py
-- runs this very file and then the ledger's services and ledger_check against the result.
--
-- What changes, and why:
-- * the primary key becomes (id, created_at): PostgreSQL requires every unique index of
--   a partitioned table to contain the partition key. ids stay unique (one sequence);
-- * PostgreSQL 15 has no identity column on a partitioned table (17 has): id takes its
--   values from a sequence carried on from the old identity;
-- * "one entry per (kind, reference)" (a settlement, a bill line's fee, a payout's stage
--   posted once) can no longer be a unique index of the journal: it moves to a small
--   unpartitioned table, journal_reference, filled by a trigger in the same statement.
--   A second posting of the same reference still fails with a unique violation;
--   payments.ledger.bulk (INSERT ... ON CONFLICT DO NOTHING) must then skip the
--   references already in journal_reference with NOT EXISTS instead (step 2);
-- * the check constraints (amount > 0, two different accounts), the foreign keys and
--   the indexes are declared on the parent and apply to every partition.
-- The copy below is the simple, offline form; online, the old table is attached as the
-- partition of everything before the first new month (after a CHECK on created_at, so
-- ATTACH does not rescan it) and new months are created ahead by a monthly job.

BEGIN;

ALTER TABLE payments_journalentry RENAME TO payments_journalentry_unpartitioned;

CREATE SEQUENCE journal_entry_id_seq AS bigint;
SELECT setval('journal_entry_id_seq', coalesce(max(id), 0) + 1, false)
FROM payments_journalentry_unpartitioned;

CREATE TABLE payments_journalentry (
    LIKE payments_journalentry_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
ALTER TABLE payments_journalentry ALTER COLUMN id SET DEFAULT nextval('journal_entry_id_seq');
ALTER SEQUENCE journal_entry_id_seq OWNED BY payments_journalentry.id;

ALTER TABLE payments_journalentry
    ADD FOREIGN KEY (merchant_id) REFERENCES courses_merchant (id) DEFERRABLE INITIALLY DEFERRED,
    ADD FOREIGN KEY (order_id) REFERENCES orders_order (id) DEFERRABLE INITIALLY DEFERRED,
    ADD FOREIGN KEY (payment_id) REFERENCES payments_payment (id) DEFERRABLE INITIALLY DEFERRED,
    ADD FOREIGN KEY (refund_id) REFERENCES payments_refund (id) DEFERRABLE INITIALLY DEFERRED;

-- One partition per month, from the oldest entry's month to three months ahead, and a
-- default partition for anything outside them (a monthly job creates the next months).
DO $$
DECLARE
    month date := date_trunc('month', coalesce(
        (SELECT min(created_at) FROM payments_journalentry_unpartitioned), now()) AT TIME ZONE 'UTC')::date;
    last date := (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months')::date;
BEGIN
    WHILE month <= last LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF payments_journalentry FOR VALUES FROM (%L) TO (%L)',
            'payments_journalentry_' || to_char(month, 'YYYY_MM'),
            month::timestamp AT TIME ZONE 'UTC',
            (month + interval '1 month')::timestamp AT TIME ZONE 'UTC'
        );
        month := (month + interval '1 month')::date;
    END LOOP;
END $$;
CREATE TABLE payments_journalentry_default PARTITION OF payments_journalentry DEFAULT;

-- The indexes the application's queries use (Django's index names are kept free for
-- the old table until it is dropped).
CREATE INDEX ON payments_journalentry (posting_id);
CREATE INDEX ON payments_journalentry (debit_account);
CREATE INDEX ON payments_journalentry (credit_account);
CREATE INDEX ON payments_journalentry (merchant_id, created_at);
CREATE INDEX ON payments_journalentry (order_id);
CREATE INDEX ON payments_journalentry (payment_id);
CREATE INDEX ON payments_journalentry (refund_id);
CREATE INDEX ON payments_journalentry (created_at DESC, id DESC);
CREATE INDEX ON payments_journalentry (kind, created_at DESC, id DESC);

-- Exactly once per (kind, reference), across every partition.
CREATE TABLE journal_reference (
    kind varchar(20) NOT NULL,
    reference varchar(80) NOT NULL,
    PRIMARY KEY (kind, reference)
);
CREATE FUNCTION journal_reference_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.reference <> '' THEN
        INSERT INTO journal_reference (kind, reference) VALUES (NEW.kind, NEW.reference);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER journal_reference_once BEFORE INSERT ON payments_journalentry
    FOR EACH ROW EXECUTE FUNCTION journal_reference_once();

INSERT INTO payments_journalentry SELECT * FROM payments_journalentry_unpartitioned;
DROP TABLE payments_journalentry_unpartitioned;

COMMIT;
