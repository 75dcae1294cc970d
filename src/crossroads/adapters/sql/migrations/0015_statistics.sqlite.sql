-- Statistics (issue 20): each analyst's spent privacy budget per project (in micro-epsilon), and
-- an index that lets the warehouse's extraction read the DmfA wages by declaration id.
CREATE TABLE privacy_budgets (
    analyst TEXT NOT NULL,
    project TEXT NOT NULL,
    spent INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (analyst, project)
);
CREATE INDEX quarterly_wages_by_declaration ON quarterly_wages (declaration_id);
