-- card_clients.version moves on with every client/edit, which writes only over the version
-- it read (Write::UpdateCardClient): two edits at once both land, none undoes the other.
ALTER TABLE card_clients ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
