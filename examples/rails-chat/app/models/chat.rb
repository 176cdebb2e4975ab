class Chat < ApplicationRecord
  has_many :memberships, dependent: :destroy
  has_many :users, through: :memberships
  has_many :messages

  # the one-to-one chat of two users, created on first use
  def self.direct(a, b)
    key = [a.id, b.id].sort.join("-")
    find_by(pair_key: key) || transaction do
      chat = create!(kind: "User", pair_key: key)
      [a, b].each { |u| chat.memberships.create!(user: u) }
      chat
    end
  rescue ActiveRecord::RecordNotUnique
    find_by!(pair_key: key)
  end

  # the window title as +user+ sees it
  def title_for(user)
    kind == "Group" ? name : (users.detect { |u| u.id != user.id }&.name || "?")
  end

  def as_json_for(user)
    { id: id, kind: kind, title: title_for(user) }
  end
end
