-- Witnesses' countersignatures of the hub's tree heads (`crossroads witness`), as they answered:
-- served with the heads, so that whoever is shown a head can check that a witness saw it too.
CREATE TABLE tree_head_cosignatures (
    tree_size INTEGER NOT NULL,
    witness TEXT NOT NULL,
    cosignature TEXT NOT NULL,
    PRIMARY KEY (tree_size, witness)
);
