-- The truck dispatch plan (`nezlam dispatch-plan --write`, docs/oncall.md "The dispatch plan"):
-- each computation appends one dispatch_plans row, its stops and its unreached points; the
-- *_latest views show each oblast's newest plan. Append-only: the planner gets SELECT and
-- INSERT from the default privileges (009), no UPDATE and no DELETE. Same SQL in both modes.

CREATE TABLE dispatch_plans (
    oblast           text NOT NULL,
    computed_at      timestamptz NOT NULL,
    solve_seconds    double precision NOT NULL,
    points_reached   integer NOT NULL,
    points_unreached integer NOT NULL,
    litres           double precision NOT NULL,
    km               double precision NOT NULL,
    PRIMARY KEY (oblast, computed_at)
);
COMMENT ON TABLE dispatch_plans IS 'Every computed dispatch plan of an oblast, with its totals.';

CREATE TABLE dispatch_stops (
    oblast           text NOT NULL,
    computed_at      timestamptz NOT NULL,
    truck_id         text NOT NULL,
    depot            text NOT NULL,
    stop_order       integer NOT NULL CHECK (stop_order >= 1),
    point_id         text NOT NULL,
    point_name       text NOT NULL,
    litres           double precision NOT NULL CHECK (litres >= 0),
    arrives_at       timestamptz NOT NULL,
    deadline         timestamptz NOT NULL,
    runs_dry_at      timestamptz NOT NULL,
    slack_hours      double precision NOT NULL,
    km_from_previous double precision NOT NULL CHECK (km_from_previous >= 0),
    PRIMARY KEY (oblast, computed_at, truck_id, stop_order),
    FOREIGN KEY (oblast, computed_at) REFERENCES dispatch_plans
);
COMMENT ON TABLE dispatch_stops IS
    'Every stop of every dispatch plan: truck, order, litres, arrival and its slack before the deadline.';

CREATE TABLE dispatch_unreached (
    oblast      text NOT NULL,
    computed_at timestamptz NOT NULL,
    point_id    text NOT NULL,
    point_name  text NOT NULL,
    runs_dry_at timestamptz NOT NULL,
    reason      text NOT NULL,
    PRIMARY KEY (oblast, computed_at, point_id),
    FOREIGN KEY (oblast, computed_at) REFERENCES dispatch_plans
);
COMMENT ON TABLE dispatch_unreached IS
    'The points a dispatch plan cannot reach before they run dry, and why.';

CREATE VIEW dispatch_plans_latest AS
SELECT DISTINCT ON (oblast) *
FROM dispatch_plans
ORDER BY oblast, computed_at DESC;
COMMENT ON VIEW dispatch_plans_latest IS 'Each oblast''s newest dispatch plan and its totals.';

CREATE VIEW dispatch_stops_latest AS
SELECT s.*
FROM dispatch_stops AS s
JOIN dispatch_plans_latest AS p USING (oblast, computed_at);
COMMENT ON VIEW dispatch_stops_latest IS 'The stops of each oblast''s newest dispatch plan.';

CREATE VIEW dispatch_unreached_latest AS
SELECT u.*
FROM dispatch_unreached AS u
JOIN dispatch_plans_latest AS p USING (oblast, computed_at);
COMMENT ON VIEW dispatch_unreached_latest IS
    'The points each oblast''s newest dispatch plan cannot reach in time, and why.';
