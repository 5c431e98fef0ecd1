# Sourced by the bench scripts: a database of its own for one run, on the
# local servers of the guide, and dropping it afterwards.

# fresh_database <sqlite|postgres|mysql> <name> <data dir>: creates the
# database and prints its URL (a file in the data dir for SQLite).
fresh_database() {
  case "$1" in
    sqlite) echo "sqlite://$3/warden.db" ;;
    postgres)
      psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE DATABASE $2" >&2
      echo "postgres://postgres@127.0.0.1:5432/$2" ;;
    mysql)
      mysql -h 127.0.0.1 -u root -e "CREATE DATABASE $2" >&2
      echo "mysql://root@127.0.0.1:3306/$2" ;;
    *) echo "unknown backend $1 (sqlite, postgres or mysql)" >&2; return 2 ;;
  esac
}

# drop_database <backend> <name>: the other half (nothing for SQLite).
drop_database() {
  case "$1" in
    postgres) psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS $2 WITH (FORCE)" ;;
    mysql) mysql -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS $2" ;;
  esac
}
