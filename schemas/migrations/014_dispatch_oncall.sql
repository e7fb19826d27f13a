-- Stops closed by a refuel seen in the telemetry, and what calling in on-call drivers would save.
-- Stops closed by what the telemetry saw (docs/oncall.md "A refuel closes the stop"): when a
-- point with a planned stop shows a refuel in its fuel forecast, the planner records the stop
-- as delivered, with the litres the readings rose by. Append-only like the plans (009's default
-- privileges: the planner gets SELECT and INSERT). Same SQL in both modes.

CREATE TABLE dispatch_deliveries (
    point_id     text NOT NULL,
    delivered_at timestamptz NOT NULL,  -- the forecast that saw the refuel
    oblast       text NOT NULL,
    planned_at   timestamptz NOT NULL,  -- the plan whose stop it closed
    truck_id     text NOT NULL,
    depot        text NOT NULL,
    planned_litres double precision NOT NULL,
    litres_seen  double precision NULL,  -- the rise of the fuel level; NULL: no level before it
    status       text NOT NULL DEFAULT 'delivered' CHECK (status IN ('delivered')),
    PRIMARY KEY (point_id, delivered_at)
);
COMMENT ON TABLE dispatch_deliveries IS
    'Planned stops closed by a refuel seen in the telemetry: truck, plan, litres planned and seen.';

-- What calling in the depots' on-call drivers would save (docs/oncall.md "Drivers on call"):
-- "call in the night driver at Depot X (VN-1n) to save 4 points"; NULL: it would save none.
ALTER TABLE dispatch_plans ADD COLUMN call_in text NULL;
ALTER TABLE dispatch_plans ADD COLUMN points_saved_by_call_in integer NULL;
COMMENT ON COLUMN dispatch_plans.call_in IS
    'On-call drivers whom calling in would reach points this plan cannot, in words.';

-- On-call drivers the dispatcher called in (`nezlam dispatch-plan --call-in DRIVER`): the plans
-- of the next day use each from its call_in_minutes after called_at, for its shift_hours.
CREATE TABLE dispatch_call_ins (
    truck_id  text NOT NULL,
    oblast    text NOT NULL,
    called_at timestamptz NOT NULL,
    PRIMARY KEY (truck_id, called_at)
);
COMMENT ON TABLE dispatch_call_ins IS 'On-call drivers called in, and when.';
