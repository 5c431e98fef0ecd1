-- The admin console's user search (front-door contract, admin console):
-- a substring of the address or the username, case-insensitive, answered
-- without reading every account (100,000 users in under 50 ms).
--
-- MariaDB has no trigram index (its FULLTEXT indexes whole words), so
-- Warden keeps one: a row per distinct trigram (three characters) of each
-- account's address, a newline and its lower-cased username. A search
-- looks up its rarest trigram here and checks the few accounts it names.
-- Rows are (trigram bytes, a 4-byte account number) and nothing else, the
-- clustered key alone, to keep the table small (about 30 bytes a row,
-- some 30 rows an account): search_id is that number, since user_id is
-- 36 characters. No foreign key (it would need an index of its own):
-- the store deletes an account's rows with the account, and addresses and
-- usernames never change once written. The store computes the trigrams
-- with the same SQL as below (crates/store/src/mysql/store/users.rs).
ALTER TABLE user_account
    ADD COLUMN search_id INT UNSIGNED NOT NULL AUTO_INCREMENT,
    ADD UNIQUE KEY user_account_search_id_key (search_id);

CREATE TABLE user_search_gram (
    gram      VARBINARY(12) NOT NULL,
    search_id INT UNSIGNED  NOT NULL,
    PRIMARY KEY (gram, search_id)
);

INSERT INTO user_search_gram (gram, search_id)
SELECT DISTINCT CAST(SUBSTRING(a.s, pos.i, 3) AS BINARY), a.search_id
FROM (SELECT search_id,
             CONCAT(email, CHAR(10 USING utf8mb4), LOWER(COALESCE(username, ''))) AS s
      FROM user_account) a
JOIN (WITH RECURSIVE p (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM p WHERE i < 512)
      SELECT i FROM p) pos
  ON pos.i + 2 <= CHAR_LENGTH(a.s);
