class PagesController < ApplicationController
  def other; end
end
